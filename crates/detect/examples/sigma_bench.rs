//! Throughput of the shipped Sigma pack (`rules/custos/`) over synthetic
//! ledger entries shaped like access events (varied actors, addresses,
//! countries, 1–4 subjects each, a refusal every 50th entry), as entries/s
//! and as a ratio against plain `record::decode` of the same bytes in the
//! same run.
//!
//! `cargo run --release -p detect --example sigma_bench [N]` (default 1M).

use std::path::Path;
use std::time::Instant;

use detect::sigma::RuleSet;
use detect::{Finding, decode};

fn entry(i: u64) -> String {
    let actor = i % 5_000;
    let ip = format!("10.{}.{}.{}", (i / 65_536) % 256, (i / 256) % 256, i % 251);
    // One entry in 1,000 from outside the residency countries.
    let country = match (i % 1000, i % 4) {
        (999, _) => "US",
        (_, 0) => "PH",
        (_, 1) => "IN",
        _ => "KR",
    };
    let n = 1 + i % 4;
    let subjects: Vec<String> = (0..n)
        .map(|k| format!("\"{:0>11}AAAAAAAAAAA\"", (i * 7 + k * 13) % 3_000_000))
        .collect();
    let t = 1_748_747_045_000 + i * 20;
    if i.is_multiple_of(50) {
        return format!(
            r#"{{"activity_id":2,"actor":{{"user":{{"type_id":3,"uid":"gw-1"}}}},"api":{{"operation":"custos.token.introspect","service":{{"name":"custos"}}}},"category_uid":6,"class_uid":6003,"metadata":{{"log_name":"custos.token","product":{{"name":"Custos","vendor_name":"Custos"}},"uid":"r{i}","version":"1.3.0"}},"resources":[{{"type":"token","uid":"j-{i}"}}],"severity_id":1,"src_endpoint":{{"ip":"{ip}","location":{{"country":"{country}"}}}},"status_id":2,"time":{t},"type_uid":600302,"unmapped":{{"custos":{{"iss":"https://auth.example.com","kid":"cs-2024-01","refusal":"expired","v":1}}}}}}"#
        );
    }
    format!(
        r#"{{"activity_id":2,"actor":{{"session":{{"credential_uid":"tok-{i}","issuer":"https://auth.example.com"}},"user":{{"type_id":1,"uid":"emp-{actor}"}}}},"api":{{"operation":"GetCustomerAddress","service":{{"name":"customer-service-tool"}}}},"category_uid":6,"class_uid":6003,"metadata":{{"log_name":"custos.access","product":{{"name":"Custos","vendor_name":"Custos"}},"uid":"evt-{i}","version":"1.3.0"}},"resources":[{{"labels":["name","address"],"name":"customers","type":"dataset"}}],"severity_id":1,"src_endpoint":{{"ip":"{ip}","location":{{"country":"{country}"}}}},"status_id":1,"time":{t},"type_uid":600302,"unmapped":{{"custos":{{"actor_kind":"employee","kid":"cs-2024-01","purpose":"support","subject_key":"hmac-sha256-128:0e98d3b7","subjects":[{}],"v":2}}}}}}"#,
        subjects.join(",")
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let entries: Vec<String> = (0..n).map(entry).collect();
    let bytes: usize = entries.iter().map(String::len).sum();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/custos");
    let mut set = RuleSet::load_dir(&dir)?;
    println!(
        "{} rules, {n} entries, {:.1} MB",
        set.len(),
        bytes as f64 / 1e6
    );

    // Baseline: decode only.
    let t = Instant::now();
    let mut subjects = 0usize;
    for (i, e) in (0u64..).zip(&entries) {
        subjects += decode(i, e.as_bytes())?.subjects.len();
    }
    let decode_s = t.elapsed().as_secs_f64();

    // Decode + every rule of the pack.
    let t = Instant::now();
    let mut out: Vec<Finding> = Vec::new();
    let mut findings = 0usize;
    for (i, e) in (0u64..).zip(&entries) {
        let rec = decode(i, e.as_bytes())?;
        set.process(&rec, &mut out);
        findings += out.len();
        out.clear();
    }
    let sigma_s = t.elapsed().as_secs_f64();
    let rate = |s: f64| n as f64 / s;
    println!(
        "decode only:      {:>10.0} entries/s ({subjects} subjects)",
        rate(decode_s)
    );
    println!(
        "decode + sigma:   {:>10.0} entries/s ({findings} findings, {} correlation groups)",
        rate(sigma_s),
        set.snapshot().groups()
    );
    println!(
        "sigma alone:      {:>10.0} entries/s",
        n as f64 / (sigma_s - decode_s).max(1e-9)
    );
    println!(
        "ratio (decode+sigma time / decode time): {:.2}x",
        sigma_s / decode_s
    );
    Ok(())
}

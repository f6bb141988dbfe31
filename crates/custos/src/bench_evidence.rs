//! `custos bench evidence`: evidence bundle size, export and verification
//! time for N proved accesses in a ledger of M ≈970-byte OCSF-shaped
//! entries, against a baseline measured in the same process (reading and
//! SHA-256 hashing the same bundle bytes): crates/evidence/src/bench.rs.

use std::process::ExitCode;
use std::time::Instant;

use ledger::{EntryBatch, Ledger, LedgerOptions};

use crate::case_cmd::EvidenceBenchArgs;
use crate::scope_cmd::{bytes, group};

/// One synthetic access entry (the shape of the server's OCSF entries).
fn entry(i: u64) -> Vec<u8> {
    let s = |k: u64| format!("{:064x}", u128::from(i ^ k) * 0x9e37_79b9_7f4a_7c15);
    format!(
        r#"{{"activity_id":2,"actor":{{"session":{{"credential_uid":"tok-{i:012x}","issuer":"https://auth.example.com"}},"user":{{"type_id":1,"uid":"emp-{:05}"}}}},"api":{{"operation":"GetCustomerAddress","service":{{"name":"customer-service-tool"}}}},"category_uid":6,"class_uid":6003,"metadata":{{"log_name":"custos.access","product":{{"name":"Custos","vendor_name":"Custos"}},"uid":"evt-{i}","version":"1.3.0"}},"resources":[{{"labels":["name","address","entrance_code"],"name":"customers","type":"dataset"}}],"severity_id":1,"src_endpoint":{{"ip":"203.0.{}.{}","location":{{"country":"KR"}}}},"status_id":1,"time":{},"type_uid":600302,"unmapped":{{"custos":{{"actor_kind":"employee","kid":"cs-2024-01","part":0,"purpose":"support-ticket-{}","subject_key":"k1","subjects":["{}","{}","{}"],"v":2}}}}}}"#,
        i % 9973,
        (i >> 8) % 250,
        i % 250,
        1_748_747_045_123u64 + i * 83,
        i % 100_000,
        s(1),
        s(2),
        s(3),
    )
    .into_bytes()
}

/// Runs the benchmark.
pub fn run(a: &EvidenceBenchArgs) -> anyhow::Result<ExitCode> {
    let (total, proved) = (a.entries, a.prove.min(a.entries));
    let dir = a.dir.join("ledger");
    if !dir.join("log").join("checkpoint").exists() {
        std::fs::create_dir_all(&dir)?;
        ledger::init(&dir, "bench.example/custos")?;
    }
    let l = Ledger::open(&dir, LedgerOptions::default())?;
    let have = l.checkpoint().size();
    if have < total {
        let bar = crate::ui::bar(total - have, "building the ledger");
        let mut i = have;
        while i < total {
            let end = (i + 65_536).min(total);
            let mut b = EntryBatch::new();
            for j in i..end {
                b.push(&entry(j))?;
            }
            l.append(b)?;
            bar.set_position(end - have);
            i = end;
        }
        bar.finish_and_clear();
    }
    l.close()?;
    // A pseudo-random subset (splitmix64): one attacker's reads scattered
    // among everyone else's.
    let keep = |i: u64| {
        let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % total < proved + proved / 50
    };
    let mut indices: Vec<u64> = (0..total).filter(|&i| keep(i)).collect();
    indices.truncate(usize::try_from(proved).unwrap_or(usize::MAX));
    let work = a.dir.join("work");
    std::fs::create_dir_all(&work)?;
    let t = Instant::now();
    let r = evidence::bench(&dir, indices, &work, 1_764_460_800)?;
    let _ = t;
    println!(
        "bundle {} for {} proved accesses ({} of entries) in a log of {}",
        bytes(r.bundle_bytes),
        group(r.entries),
        bytes(r.entry_bytes),
        group(r.tree_size)
    );
    println!(
        "inclusion multi-proof: {} hashes ({}) vs {} as one tlog-proof per access",
        group(r.multiproof_hashes),
        bytes(r.multiproof_hashes * 32),
        bytes(r.individual_proof_bytes)
    );
    println!(
        "export {:.2} s; verify {:.2} s vs baseline (read + SHA-256 of the bundle) {:.2} s: {:.2}x",
        r.export_secs,
        r.verify_secs,
        r.baseline_secs,
        r.verify_ratio()
    );
    std::fs::remove_dir_all(&a.dir).ok();
    Ok(ExitCode::SUCCESS)
}

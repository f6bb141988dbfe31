//! Measures evidence bundles at scale: builds (once) a ledger of `TOTAL`
//! OCSF-shaped entries of ~850 bytes in `DIR`, then exports and verifies a
//! bundle proving `PROVED` of them (a deterministic pseudo-random subset),
//! with a same-process baseline (read + SHA-256 of the bundle's bytes).
//!
//! `cargo run --release -p evidence --example bench_evidence -- DIR [TOTAL] [PROVED]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::time::Instant;

use ledger::{EntryBatch, Ledger, LedgerOptions};

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

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("DIR"));
    let total: u64 = args.next().map_or(2_000_000, |s| s.parse().unwrap());
    let proved: usize = args.next().map_or(1_000_000, |s| s.parse().unwrap());
    if !dir.join("log/checkpoint").exists() {
        ledger::init(&dir, "bench.example/custos").unwrap();
    }
    let l = Ledger::open(&dir, LedgerOptions::default()).unwrap();
    let have = l.checkpoint().size();
    if have < total {
        let t = Instant::now();
        let mut i = have;
        while i < total {
            let end = (i + 65_536).min(total);
            let mut b = EntryBatch::new();
            for j in i..end {
                b.push(&entry(j)).unwrap();
            }
            l.append(b).unwrap();
            i = end;
        }
        eprintln!(
            "built {} entries of ~{} bytes in {:.1}s",
            total - have,
            entry(total / 2).len(),
            t.elapsed().as_secs_f64()
        );
    }
    l.close().unwrap();
    // A pseudo-random subset (splitmix64), like one attacker's reads
    // scattered among everyone else's.
    let keep = |i: u64| {
        let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % total < proved as u64 + proved as u64 / 50
    };
    let mut indices: Vec<u64> = (0..total).filter(|&i| keep(i)).collect();
    indices.truncate(proved);
    let work = dir.parent().unwrap_or(&dir).join("evidence-bench");
    std::fs::create_dir_all(&work).unwrap();
    let r = evidence::bench(&dir, indices, &work, 1_764_460_800).unwrap();
    println!("{r:#?}");
    println!(
        "bundle {:.1} MB for {} entries ({:.1} MB of entries) in a log of {}; multi-proof {:.1} MB vs individual tlog-proofs {:.1} MB",
        r.bundle_bytes as f64 / 1e6,
        r.entries,
        r.entry_bytes as f64 / 1e6,
        r.tree_size,
        r.multiproof_hashes as f64 * 32.0 / 1e6,
        r.individual_proof_bytes as f64 / 1e6
    );
    println!(
        "export {:.2}s, verify {:.2}s, baseline read+SHA-256 {:.2}s, verify/baseline {:.2}x",
        r.export_secs,
        r.verify_secs,
        r.baseline_secs,
        r.verify_ratio()
    );
}

//! Evidence bundles end to end: a real ledger, an export citing three
//! checkpoints, offline verification, and one test per tamper, each failing
//! with its own error. Tampers are made twice where it matters: as an
//! outsider would (the manifest signature or a digest catches it) and as an
//! insider holding the log key would (re-signing the manifest), where the
//! Merkle proofs still catch it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Read;
use std::path::PathBuf;

use evidence::{Cite, Error, ExportRequest, MultiProofError, Stage};
use ledger::{EntryBatch, Ledger, LedgerOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tlog::{Checkpoint, Note, Signer, TlogProof, Verifier};

const ORIGIN: &str = "example.com/custos-evidence-test";
const NOW: i64 = 1_764_460_800; // 2025-11-30T00:00:00Z

/// One OCSF-shaped entry (docs/events.md), varied by `i`, ~600–700 bytes.
fn entry(i: u64) -> Vec<u8> {
    format!(
        r#"{{"activity_id":2,"actor":{{"session":{{"credential_uid":"tok-{i:08x}","issuer":"https://auth.example.com"}},"user":{{"type_id":1,"uid":"emp-{:04}"}}}},"api":{{"operation":"GetCustomerAddress","service":{{"name":"customer-service-tool"}}}},"category_uid":6,"class_uid":6003,"metadata":{{"log_name":"custos.access","product":{{"name":"Custos","vendor_name":"Custos"}},"uid":"evt-{i}","version":"1.3.0"}},"resources":[{{"labels":["name","address","entrance_code"],"name":"customers","type":"dataset"}}],"severity_id":1,"src_endpoint":{{"ip":"203.0.113.{}","location":{{"country":"KR"}}}},"status_id":1,"time":{},"type_uid":600302,"unmapped":{{"custos":{{"actor_kind":"employee","kid":"cs-2024-01","part":0,"purpose":"support-ticket-{i}","subject_key":"k1","subjects":["hmac-{:064x}"],"v":2}}}}}}"#,
        i % 97,
        i % 250,
        1_748_747_045_123u64 + i * 83,
        u128::from(i) * 0x9e37_79b9_7f4a_7c15
    )
    .into_bytes()
}

struct Fixture {
    _tmp: TempDir,
    dir: PathBuf,
    out: PathBuf,
    vkey: String,
    /// The checkpoint note published at size 300.
    cp300: Vec<u8>,
    indices: Vec<u64>,
}

fn append(l: &Ledger, range: std::ops::Range<u64>) {
    let mut b = EntryBatch::new();
    for i in range {
        b.push(&entry(i)).unwrap();
    }
    l.append(b).unwrap();
}

fn fixture() -> Fixture {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("data");
    let vkey = ledger::init(&dir, ORIGIN).unwrap().to_string();
    let l = Ledger::open(&dir, LedgerOptions::default()).unwrap();
    append(&l, 0..300);
    let cp300 = l.checkpoint().note_bytes().to_vec();
    append(&l, 300..700);
    append(&l, 700..801);
    l.close().unwrap();
    Fixture {
        out: tmp.path().join("incident-7.tar"),
        _tmp: tmp,
        dir,
        vkey,
        cp300,
        indices: vec![799, 3, 17, 255, 256, 400, 800, 3, 512],
    }
}

fn request(f: &Fixture) -> ExportRequest {
    ExportRequest {
        incident: "INC-2025-0007".into(),
        scope: json!({"principal": "emp-0042", "subjects": 7, "by_category": {"address": 7}}),
        indices: f.indices.clone(),
        cite: vec![Cite::Note(f.cp300.clone()), Cite::Size(100)],
    }
}

fn exported() -> (Fixture, Vec<u8>) {
    let f = fixture();
    let mut stages = Vec::new();
    let s = evidence::export(&f.dir, &request(&f), &f.out, NOW, &mut |p| stages.push(p)).unwrap();
    assert_eq!(s.entries, 8);
    assert_eq!(s.checkpoints, vec![100, 300, 801]);
    assert!(
        stages
            .iter()
            .any(|p| p.stage == Stage::Entries && p.done == 8 && p.total == 8)
    );
    assert!(
        stages
            .iter()
            .any(|p| p.stage == Stage::Write && p.done == p.total)
    );
    let bytes = std::fs::read(&f.out).unwrap();
    assert_eq!(s.bytes, bytes.len() as u64);
    (f, bytes)
}

/// The archive's members, in order.
fn unpack(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            (name, b)
        })
        .collect()
}

fn pack(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (name, b) in members {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(b.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append(&h, b.as_slice()).unwrap();
    }
    t.into_inner().unwrap()
}

fn member<'a>(m: &'a mut [(String, Vec<u8>)], name: &str) -> &'a mut Vec<u8> {
    &mut m.iter_mut().find(|(n, _)| n == name).unwrap().1
}

fn manifest(m: &[(String, Vec<u8>)]) -> Value {
    serde_json::from_slice(&m[0].1).unwrap()
}

fn signer(f: &Fixture) -> Signer {
    ledger::signer_key(&f.dir).unwrap()
}

/// What an insider with the log key would do: fix every digest in the
/// manifest (after `edit`), and sign it again.
fn resign(f: &Fixture, m: &mut [(String, Vec<u8>)], edit: impl FnOnce(&mut Value)) {
    let mut v = manifest(m);
    edit(&mut v);
    let sizes: Vec<(String, usize, String)> = m[2..]
        .iter()
        .map(|(n, b)| (n.clone(), b.len(), hex::encode(Sha256::digest(b))))
        .collect();
    for fd in v["files"].as_array_mut().unwrap() {
        if let Some((_, len, sha)) = sizes.iter().find(|(n, _, _)| fd["name"] == *n) {
            fd["size"] = json!(len);
            fd["sha256"] = json!(sha);
        }
    }
    let mut bytes = serde_json::to_vec(&v).unwrap();
    bytes.push(b'\n');
    let note = Note::sign(&evidence::manifest_note_text(&bytes), &[&signer(f)]).unwrap();
    m[0].1 = bytes;
    m[1].1 = note.to_bytes();
}

fn check(f: &Fixture, bytes: &[u8]) -> Result<evidence::VerifyReport, Error> {
    let v = Verifier::parse(&f.vkey).unwrap();
    evidence::verify_reader(bytes, &v, &mut |_, _| {})
}

#[test]
fn exported_bundle_verifies_offline_with_the_public_key_only() {
    let (f, bytes) = exported();
    let r = evidence::verify(&f.out, &f.vkey).unwrap();
    assert_eq!(r.incident, "INC-2025-0007");
    assert_eq!(r.created, "2025-11-30T00:00:00Z");
    assert_eq!(r.origin, ORIGIN);
    assert_eq!(r.scope["principal"], "emp-0042");
    assert_eq!(r.checkpoints, vec![100, 300, 801]);
    assert_eq!(r.entries, 8);
    assert_eq!(r.archive_bytes, bytes.len() as u64);
    let want_bytes: usize = [3, 17, 255, 256, 400, 512, 799, 800]
        .iter()
        .map(|&i| entry(i).len())
        .sum();
    assert_eq!(r.entry_bytes, want_bytes as u64);
    let mut reader = ledger::LogReader::open(&f.dir).unwrap();
    assert_eq!(r.root, base64_root(&mut reader, 801));

    // The members, in the documented order.
    let m = unpack(&bytes);
    let names: Vec<&str> = m.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "manifest.json",
            "manifest.sig",
            "checkpoints/100.note",
            "checkpoints/300.note",
            "checkpoints/801.note",
            "proofs/consistency-100-300.txt",
            "proofs/consistency-300-801.txt",
            "proofs/inclusion.multiproof",
            "entries.bin",
        ]
    );
    assert_eq!(member(&mut m.clone(), "checkpoints/300.note"), &f.cp300);
    assert_eq!(
        member(&mut m.clone(), "checkpoints/801.note"),
        &std::fs::read(f.dir.join("log/checkpoint")).unwrap()
    );
    // entries.bin is a tlog-tiles entry bundle of the proved entries, in order.
    let got: Vec<Vec<u8>> = tlog::decode_bundle(&m[8].1)
        .map(|e| e.unwrap().to_vec())
        .collect();
    let want: Vec<Vec<u8>> = [3, 17, 255, 256, 400, 512, 799, 800]
        .iter()
        .map(|&i| entry(i))
        .collect();
    assert_eq!(got, want);
    // The auditor's streaming view sees the same entries with their indices.
    let mut seen = Vec::new();
    let v = Verifier::parse(&f.vkey).unwrap();
    evidence::verify_reader(bytes.as_slice(), &v, &mut |i, e| seen.push((i, e.to_vec()))).unwrap();
    assert_eq!(
        seen.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![3, 17, 255, 256, 400, 512, 799, 800]
    );
    assert_eq!(seen[4].1, entry(400));
    // The manifest signature is a signed note by the log's key.
    let mf = manifest(&m);
    assert_eq!(mf["format"], "custos.evidence/v1");
    assert_eq!(
        mf["entries"]["indices"],
        json!([3, 17, 255, 256, 400, 512, 799, 800])
    );
    assert_eq!(mf["inclusion"]["tree_size"], 801);
    assert_eq!(
        mf["inclusion"]["hashes"].as_u64().unwrap() * 32,
        m[7].1.len() as u64
    );
    tlog::open_note(&m[1].1, &[v]).unwrap();
    // The 8 entries need far fewer hashes than 8 separate paths.
    assert!(mf["inclusion"]["hashes"].as_u64().unwrap() < 8 * 10);
}

fn base64_root(reader: &mut ledger::LogReader, size: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(reader.root_at(size, size).unwrap())
}

#[test]
fn a_single_entry_exports_as_a_standard_tlog_proof() {
    let (f, _) = exported();
    let v = Verifier::parse(&f.vkey).unwrap();
    for index in [3, 256, 400, 800] {
        let p = evidence::tlog_proof(&f.out, &f.vkey, index).unwrap();
        // Independent check: tlog's own tlog-proof verifier, on the parsed text.
        let parsed = TlogProof::parse(&p.to_bytes()).unwrap();
        let cp = parsed
            .verify(&tlog::leaf_hash(&entry(index)), ORIGIN, &v)
            .unwrap();
        assert_eq!(cp.size(), 801);
        // And it is the very proof the ledger itself gives.
        let mut reader = ledger::LogReader::open(&f.dir).unwrap();
        assert_eq!(parsed.hashes, reader.inclusion_proof(index, 801).unwrap());
        assert!(
            parsed
                .verify(&tlog::leaf_hash(&entry(index + 1)), ORIGIN, &v)
                .is_err()
        );
    }
    assert!(matches!(
        evidence::tlog_proof(&f.out, &f.vkey, 401),
        Err(Error::NotProved { index: 401 })
    ));
}

#[test]
fn a_flipped_entry_byte_is_caught() {
    let (f, bytes) = exported();
    let mut m = unpack(&bytes);
    member(&mut m, "entries.bin")[100] ^= 1;
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::Digest { file, what: "SHA-256" } if file == "entries.bin"),
        "{e}"
    );
    // Re-signed by someone holding the log key: the Merkle proof still fails.
    resign(&f, &mut m, |_| {});
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Inclusion {
                size: 801,
                source: MultiProofError::RootMismatch,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_removed_entry_is_caught() {
    let (f, bytes) = exported();
    let mut m = unpack(&bytes);
    // Drop the first entry (index 3): from entries.bin and the index list.
    let e = member(&mut m, "entries.bin");
    let len = usize::from(u16::from_be_bytes([e[0], e[1]]));
    e.drain(..2 + len);
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::Digest { file, what: "size" } if file == "entries.bin"),
        "{e}"
    );
    resign(&f, &mut m, |v| {
        v["entries"]["indices"].as_array_mut().unwrap().remove(0);
    });
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(matches!(&e, Error::Inclusion { .. }), "{e}");
    // Removing the member altogether.
    let mut m = unpack(&bytes);
    m.pop();
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::Archive(r) if r.contains("\"entries.bin\"") && r.contains("missing")),
        "{e}"
    );
}

#[test]
fn a_changed_scope_is_caught() {
    let (f, bytes) = exported();
    let mut m = unpack(&bytes);
    let mut v = manifest(&m);
    v["scope"]["subjects"] = json!(3);
    m[0].1 = serde_json::to_vec(&v).unwrap();
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::ManifestSignature(r) if r.contains("not over this manifest")),
        "{e}"
    );
}

#[test]
fn a_dropped_proof_node_is_caught() {
    let (f, bytes) = exported();
    let mut m = unpack(&bytes);
    let p = member(&mut m, "proofs/inclusion.multiproof");
    let n = p.len() / 32;
    p.truncate(p.len() - 32);
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::Digest { file, what: "size" } if file == "proofs/inclusion.multiproof"),
        "{e}"
    );
    resign(&f, &mut m, |v| v["inclusion"]["hashes"] = json!(n - 1));
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::Inclusion { source: MultiProofError::TooFew { got }, .. } if *got == n - 1),
        "{e}"
    );
}

#[test]
fn a_wrong_key_is_refused() {
    let (f, _) = exported();
    let stranger = Signer::generate(ORIGIN).unwrap().verifier().to_string();
    let e = evidence::verify(&f.out, &stranger).unwrap_err();
    assert!(
        matches!(&e, Error::ManifestSignature(r) if r.contains("no signature")|| r.contains("trusted")),
        "{e}"
    );
    let e = evidence::verify(&f.out, "not a key").unwrap_err();
    assert!(matches!(e, Error::VerifierKey(_)), "{e}");
}

#[test]
fn a_checkpoint_from_another_log_is_refused() {
    let (f, bytes) = exported();
    let other = TempDir::new().unwrap();
    ledger::init(other.path(), "example.com/another-log").unwrap();
    let l = Ledger::open(other.path(), LedgerOptions::default()).unwrap();
    append(&l, 0..300);
    let foreign = l.checkpoint().note_bytes().to_vec();
    l.close().unwrap();
    // At export.
    let mut req = request(&f);
    req.cite = vec![Cite::Note(foreign.clone())];
    let e = evidence::export(&f.dir, &req, &f.out, NOW, &mut |_| {}).unwrap_err();
    assert!(
        matches!(e, Error::CitedCheckpoint { position: 0, .. }),
        "{e}"
    );
    // In a bundle, even re-signed.
    let mut m = unpack(&bytes);
    *member(&mut m, "checkpoints/300.note") = foreign;
    resign(&f, &mut m, |_| {});
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::Checkpoint { file, .. } if file == "checkpoints/300.note"),
        "{e}"
    );
    // The original is untouched and still verifies.
    evidence::verify(&f.out, &f.vkey).unwrap();
}

#[test]
fn inconsistent_checkpoints_are_refused() {
    let (f, bytes) = exported();
    // A checkpoint of size 300 signed by the log's own key but with another
    // root: a fork (or a rewritten history).
    let forged = Checkpoint {
        origin: ORIGIN.into(),
        size: 300,
        root: tlog::leaf_hash(b"rewritten history"),
        extensions: vec![],
    }
    .sign(&[&signer(&f)])
    .unwrap();
    let mut req = request(&f);
    req.cite = vec![Cite::Note(forged.clone())];
    let e = evidence::export(&f.dir, &req, &f.out, NOW, &mut |_| {}).unwrap_err();
    assert!(
        matches!(&e, Error::CitedCheckpoint { reason, .. } if reason.contains("forked")),
        "{e}"
    );
    let mut m = unpack(&bytes);
    *member(&mut m, "checkpoints/300.note") = forged;
    resign(&f, &mut m, |_| {});
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::Consistency { file, old: 100, new: 300, .. } if file == "proofs/consistency-100-300.txt"),
        "{e}"
    );
    // A flipped consistency hash.
    let mut m = unpack(&bytes);
    let c = member(&mut m, "proofs/consistency-300-801.txt");
    c[0] = if c[0] == b'A' { b'B' } else { b'A' };
    resign(&f, &mut m, |_| {});
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Consistency {
                old: 300,
                new: 801,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn malformed_manifests_name_the_field() {
    let (f, bytes) = exported();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|v| v["format"] = json!("custos.evidence/v9")),
            "$.format",
        ),
        (Box::new(|v| v["surprise"] = json!(1)), "$.surprise"),
        (
            Box::new(|v| v["checkpoints"][1]["size"] = json!("300")),
            "$.checkpoints[1].size",
        ),
        (
            Box::new(|v| v["checkpoints"][1]["file"] = json!("../../etc/passwd")),
            "$.checkpoints[1].file",
        ),
        (
            Box::new(|v| v["entries"]["indices"][2] = json!(3)),
            "$.entries.indices[2]",
        ),
        (
            Box::new(|v| v["entries"]["indices"][7] = json!(801)),
            "$.entries.indices[7]",
        ),
        (
            Box::new(|v| v["inclusion"]["tree_size"] = json!(300)),
            "$.inclusion.tree_size",
        ),
        (
            Box::new(|v| v["consistency"].as_array_mut().unwrap().truncate(1)),
            "$.consistency",
        ),
        (
            Box::new(|v| v["files"][0]["name"] = json!("checkpoints/1.note")),
            "$.files[0].name",
        ),
    ];
    for (edit, path) in cases {
        let mut m = unpack(&bytes);
        resign(&f, &mut m, |v| edit(v));
        let e = check(&f, &pack(&m)).unwrap_err();
        assert!(
            matches!(&e, Error::Manifest { path: p, .. } if p == path),
            "{path}: {e}"
        );
    }
}

#[test]
fn archive_structure_is_enforced() {
    let (f, bytes) = exported();
    // Members out of order.
    let mut m = unpack(&bytes);
    m.swap(0, 1);
    assert!(matches!(check(&f, &pack(&m)), Err(Error::Archive(_))));
    // A member the manifest does not list.
    let mut m = unpack(&bytes);
    m.push(("notes.txt".into(), b"hi".to_vec()));
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::Archive(r) if r.contains("notes.txt")),
        "{e}"
    );
    // A duplicated member.
    let mut m = unpack(&bytes);
    let dup = m[3].clone();
    m.push(dup);
    let e = check(&f, &pack(&m)).unwrap_err();
    assert!(
        matches!(&e, Error::Archive(r) if r.contains("twice")),
        "{e}"
    );
}

#[test]
fn export_refuses_bad_requests_and_writes_atomically() {
    let f = fixture();
    let mut req = request(&f);
    req.indices.push(801);
    let e = evidence::export(&f.dir, &req, &f.out, NOW, &mut |_| {}).unwrap_err();
    assert!(matches!(&e, Error::Request(r) if r.contains("801")), "{e}");
    req.indices.pop();
    req.cite = vec![Cite::Size(900)];
    assert!(matches!(
        evidence::export(&f.dir, &req, &f.out, NOW, &mut |_| {}),
        Err(Error::CitedCheckpoint { position: 0, .. })
    ));
    assert!(!f.out.exists());
    // No temporary file is left behind by a failed export.
    let left: Vec<_> = std::fs::read_dir(f.out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // An empty selection still ties the bundle to the checkpoint.
    req.cite = vec![];
    req.indices = vec![];
    evidence::export(&f.dir, &req, &f.out, NOW, &mut |_| {}).unwrap();
    let r = evidence::verify(&f.out, &f.vkey).unwrap();
    assert_eq!(
        (r.entries, r.multiproof_hashes, r.checkpoints),
        (0, 1, vec![801])
    );
    // Exports are deterministic for a given log, request and clock.
    let a = std::fs::read(&f.out).unwrap();
    evidence::export(&f.dir, &req, &f.out, NOW, &mut |_| {}).unwrap();
    assert_eq!(a, std::fs::read(&f.out).unwrap());
}

#[test]
fn hostile_archives_never_panic() {
    let (f, bytes) = exported();
    let v = Verifier::parse(&f.vkey).unwrap();
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0; 1024],
        vec![0xff; 4096],
        b"manifest.json".to_vec(),
    ];
    for cut in (0..bytes.len())
        .step_by(97)
        .chain([511, 512, 513, 1024, bytes.len() - 1])
    {
        inputs.push(bytes[..cut].to_vec());
    }
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..400 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut b = bytes.clone();
        let at = (x as usize) % b.len();
        b[at] ^= 1 << ((x >> 32) % 8);
        inputs.push(b);
    }
    // Deep mutations behind a valid signature (as a key holder could make).
    for edit in [
        json!({"hashes": 0}),
        json!({"hashes": 100000}),
        json!({"tree_size": u64::MAX}),
    ] {
        let mut m = unpack(&bytes);
        resign(&f, &mut m, |v| {
            for (k, val) in edit.as_object().unwrap() {
                v["inclusion"][k] = val.clone();
            }
        });
        inputs.push(pack(&m));
    }
    let original = unpack(&bytes);
    let mut failed = 0;
    for input in &inputs {
        evidence::fuzz_bundle(input);
        if evidence::verify_reader(input.as_slice(), &v, &mut |_, _| {}).is_err() {
            failed += 1;
        } else {
            // A flip that passes landed in tar padding or after the end of
            // the archive: every member is byte for byte the original.
            assert_eq!(unpack(input), original);
        }
    }
    assert!(
        failed > inputs.len() * 3 / 4,
        "{failed} of {}",
        inputs.len()
    );
    for cut in (0..bytes.len() - 1024).step_by(97) {
        assert!(check(&f, &bytes[..cut]).is_err(), "truncated at {cut}");
    }
}

//! Replays the committed cargo-fuzz corpora `fuzz/corpus/scim_filter/` and
//! `fuzz/corpus/scim_patch/` through the same calls as
//! `fuzz/fuzz_targets/scim_filter.rs` and `scim_patch.rs`, so every seed and
//! every input fuzzing once found stays a regression test.
//!
//! No input may panic. `valid-…` must be accepted (the filter parses; the
//! PATCH on the User answers 200), `bad-…` refused (a parse error; a 4xx
//! SCIM error body); other names: no panic is all that is asked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

use scim::{
    MemoryStore, ResourceKind, ScimService, ServiceConfig, check_filter, matches, parse_filter,
    parse_path,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus");

/// Same as `fuzz_targets/scim_filter.rs`; whether the filter parsed.
fn filter(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    if let Ok(path) = parse_path(text) {
        assert_eq!(parse_path(&path.to_string()).as_ref(), Ok(&path));
    }
    match parse_filter(text) {
        Ok(f) => {
            let printed = f.to_string();
            assert_eq!(parse_filter(&printed).as_ref(), Ok(&f), "{printed}");
            let _ = check_filter(ResourceKind::User, &f);
            let user = serde_json::json!({
                "id": "2819c223", "userName": "bjensen", "active": true,
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
                "meta": {"lastModified": "2011-05-13T04:42:34Z"}
            });
            let _ = matches(ResourceKind::User, &f, &user);
            true
        }
        Err(e) => {
            assert!(e.position <= text.len().max(scim::MAX_FILTER_LEN), "{e}");
            assert!(!e.message.is_empty());
            false
        }
    }
}

/// Same as `fuzz_targets/scim_patch.rs`; the status of the User PATCH.
fn patch(data: &[u8]) -> u16 {
    let n = AtomicU64::new(0);
    let s = ScimService::new(MemoryStore::new(), ServiceConfig::default())
        .with_ids(move || format!("id{}", n.fetch_add(1, Ordering::SeqCst)));
    let user = br#"{"userName":"bjensen","active":true,"name":{"givenName":"B"},
        "emails":[{"value":"b@example.com","type":"work","primary":true}]}"#;
    assert_eq!(s.create(ResourceKind::User, user).status, 201);
    let group = br#"{"displayName":"Ops","members":[{"value":"id0"}]}"#;
    assert_eq!(s.create(ResourceKind::Group, group).status, 201);
    let mut user_status = 0;
    for (kind, id) in [(ResourceKind::User, "id0"), (ResourceKind::Group, "id1")] {
        let r = s.patch(kind, id, data, None);
        assert!(
            r.status == 200 || (400..500).contains(&r.status),
            "{}",
            r.status
        );
        if r.status != 200 {
            let body = r.body.as_ref().unwrap();
            assert_eq!(body["status"], r.status.to_string());
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
        let after = s.get(kind, id, &[] as &[(&str, &str)], None);
        assert_eq!(after.status, 200);
        if kind == ResourceKind::User {
            user_status = r.status;
        }
    }
    user_status
}

fn replay(target: &str, accepted: fn(&[u8]) -> bool) {
    let dir = format!("{CORPUS}/{target}");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| accepted(&data)))
            .unwrap_or_else(|_| panic!("{target}/{name} panicked"));
        if name.starts_with("valid-") {
            assert!(outcome, "{target}/{name} was refused");
        } else if name.starts_with("bad-") {
            assert!(!outcome, "{target}/{name} was accepted");
        }
        seen += 1;
    }
    assert!(seen >= 10, "{target}: only {seen} inputs");
}

#[test]
fn scim_filter_corpus() {
    replay("scim_filter", filter);
}

#[test]
fn scim_patch_corpus() {
    replay("scim_patch", |d| patch(d) == 200);
}

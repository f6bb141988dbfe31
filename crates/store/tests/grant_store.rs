//! The `access::GrantStore` contract: one set of behavioural checks run
//! against `access::MemoryGrantStore` and `SqliteGrantStore`; then
//! durability across reopen, and an engine rebuilt from the store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::sync::Arc;

use access::{
    Engine, Grant, GrantStore, Holder, MemoryGrantStore, Principal, PrincipalKind, PrincipalStatus,
    approve, parse_authz_request, parse_grant_request, revoke,
};
use store::{Database, SqliteGrantStore};

const T0: i64 = 1_796_169_600;

fn grant(id: &str, holder: Holder) -> Grant {
    Grant {
        id: id.into(),
        holder,
        dataset: "customers".into(),
        categories: BTreeSet::from(["name".into(), "phone".into()]),
        purpose: "customer_support".into(),
        max_subjects_per_day: 200,
        valid_from: T0,
        valid_until: T0 + 86_400,
        requested_by: "mgr-1".into(),
        approved_by: None,
        approved_at: None,
        ticket: "SEC-1 \"quoted\" 사용자".into(),
        created_at: T0,
        revoked: None,
    }
}

/// The contract, on an empty store.
fn contract(s: &dyn GrantStore) {
    assert_eq!(s.get("g-1").unwrap(), None);
    assert!(s.list().unwrap().is_empty());

    let a = grant("g-b", Holder::Principal("emp-1".into()));
    let b = grant("g-a", Holder::Group("cs-team".into()));
    let c = grant("g-C", Holder::Principal("emp-2".into()));
    for g in [&a, &b, &c] {
        s.put(g).unwrap();
    }
    // get after put sees every field.
    assert_eq!(s.get("g-b").unwrap(), Some(a.clone()));
    assert_eq!(s.get("g-a").unwrap(), Some(b.clone()));
    assert_eq!(s.get("g-").unwrap(), None);
    // list: each once, byte order of id ("g-C" < "g-a" < "g-b").
    let ids: Vec<String> = s.list().unwrap().into_iter().map(|g| g.id).collect();
    assert_eq!(ids, ["g-C", "g-a", "g-b"]);

    // put replaces by id, whole.
    let mut a2 = a.clone();
    approve(&mut a2, "sec-1", T0).unwrap();
    s.put(&a2).unwrap();
    let mut a3 = a2.clone();
    revoke(&mut a3, "sec-1", "done", T0 + 10).unwrap();
    a3.holder = Holder::Group("other".into());
    s.put(&a3).unwrap();
    assert_eq!(s.get("g-b").unwrap(), Some(a3.clone()));
    assert_eq!(s.list().unwrap().len(), 3);
    assert_eq!(s.list().unwrap()[2], a3);
}

#[test]
fn memory_store_keeps_the_contract() {
    contract(&MemoryGrantStore::new());
}

#[test]
fn memory_store_injected_failure_stores_nothing() {
    let s = MemoryGrantStore::new();
    s.fail_puts(true);
    assert!(
        s.put(&grant("g-1", Holder::Principal("emp-1".into())))
            .is_err()
    );
    assert!(s.list().unwrap().is_empty());
    s.fail_puts(false);
    s.put(&grant("g-1", Holder::Principal("emp-1".into())))
        .unwrap();
    assert_eq!(s.list().unwrap().len(), 1);
}

#[test]
fn sqlite_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_data_dir(dir.path()).unwrap();
    contract(&SqliteGrantStore::new(&db).unwrap());
    db.integrity_check().unwrap();
}

#[test]
fn sqlite_grants_survive_reopen_and_rebuild_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let body = br#"{"holder":{"principal":"emp-1"},"dataset":"customers","categories":["name"],
        "purpose":"customer_support","max_subjects_per_day":5,"valid_until":"2026-12-09T00:00:00Z","ticket":"SEC-9"}"#;
    let mut g = parse_grant_request(body, "mgr-1", T0, "g-1".into()).unwrap();
    {
        let db = Database::open_data_dir(dir.path()).unwrap();
        let s = SqliteGrantStore::new(&db).unwrap();
        s.put(&g).unwrap();
        approve(&mut g, "sec-1", T0).unwrap();
        s.put(&g).unwrap();
    }
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s: Arc<dyn GrantStore> = Arc::new(SqliteGrantStore::new(&db).unwrap());
    assert_eq!(s.list().unwrap(), [g.clone()]);
    // A second connection (another store) sees it too.
    assert_eq!(
        SqliteGrantStore::new(&db).unwrap().get("g-1").unwrap(),
        Some(g)
    );

    let engine = Engine::new(s.list().unwrap()).unwrap();
    let p = Principal {
        id: "emp-1".into(),
        kind: PrincipalKind::Employee,
        status: PrincipalStatus::Active,
        groups: Vec::new(),
        department: None,
        roles: Vec::new(),
        region: None,
        supplier: None,
    };
    let req = parse_authz_request(
        br#"{"principal":"emp-1","dataset":"customers","categories":["name"],"purpose":"customer_support","subjects":["c-1"]}"#,
    )
    .unwrap();
    assert!(engine.authorize(&req, Some(&p), T0 + 5).allow);
}

#[test]
fn sqlite_refuses_a_corrupt_body_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s = SqliteGrantStore::new(&db).unwrap();
    s.put(&grant("g-1", Holder::Principal("emp-1".into())))
        .unwrap();
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    conn.execute("UPDATE access_grant SET body = '{\"id\":1}'", [])
        .unwrap();
    assert!(s.get("g-1").is_err());
    assert!(s.list().is_err());
}

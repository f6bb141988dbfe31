//! Incidents and legal holds: stored durably, holds never deleted and never
//! reactivated once lifted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use store::{Database, SqliteCaseStore};

#[test]
fn incidents_round_trip_and_holds_cannot_be_deleted_or_revived() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s = SqliteCaseStore::new(&db).unwrap();
    s.put_incident("inc-1", "open", 10, 10, r#"{"id":"inc-1","v":1}"#)
        .unwrap();
    s.put_incident("inc-1", "contained", 10, 20, r#"{"id":"inc-1","v":2}"#)
        .unwrap();
    s.put_incident("inc-2", "open", 30, 30, r#"{"id":"inc-2"}"#)
        .unwrap();
    assert_eq!(
        s.incident("inc-1").unwrap().unwrap().body,
        r#"{"id":"inc-1","v":2}"#
    );
    let ids: Vec<String> = s.incidents().unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(ids, ["inc-2", "inc-1"]);
    assert!(s.put_incident("inc-3", "open", 1, 1, "not json").is_err());

    s.place_hold("hold-1", 5, r#"{"id":"hold-1"}"#).unwrap();
    assert!(
        s.place_hold("hold-1", 6, r#"{"id":"hold-1"}"#).is_err(),
        "ids are unique"
    );
    let e = s.delete_hold("hold-1").unwrap_err().to_string();
    assert!(e.contains("never deleted"), "{e}");
    assert!(
        s.lift_hold("hold-1", r#"{"id":"hold-1","lifted":true}"#)
            .unwrap()
    );
    assert!(!s.lift_hold("hold-1", "{}").unwrap(), "already lifted");
    assert_eq!(s.holds().unwrap().len(), 1);
    // Reopen: everything is still there.
    drop(s);
    drop(db);
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s = SqliteCaseStore::new(&db).unwrap();
    assert_eq!(
        s.holds().unwrap()[0].body,
        r#"{"id":"hold-1","lifted":true}"#
    );
    assert_eq!(s.incidents().unwrap().len(), 2);
}

//! Opening the database: file modes, the settings the durability contract
//! rests on, migrations, and every kind of wrong file — each a typed
//! error, never a panic, and never a write to someone else's file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rusqlite::Connection;
use scim::{ResourceKind, ScimStore, StoreQuery};
use serde_json::Map;
use store::{
    APPLICATION_ID, Database, OpenError, SCHEMA_VERSION, SqliteIssuanceStore,
    SqliteRevocationStore, SqliteScimStore,
};
use token::{IssuanceRecord, IssuanceStore, RevocationStore};

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn rec(jti: &str) -> IssuanceRecord {
    IssuanceRecord {
        seq: 0,
        jti: jti.into(),
        kid: "k".into(),
        sub: "alice".into(),
        iat: 1,
        exp: 2,
        aud: vec!["a".into()],
        client_id: None,
    }
}

#[test]
fn a_new_database_is_private_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_data_dir(dir.path()).unwrap();
    assert_eq!(db.path(), dir.path().join("meta/custos.db"));
    assert_eq!(mode(&dir.path().join("meta")), 0o700);
    assert_eq!(mode(db.path()), 0o600);
    let s = db.settings().unwrap();
    assert_eq!(s.journal_mode, "wal");
    assert_eq!(s.synchronous, 2, "FULL: every commit fsyncs the WAL");
    assert!(s.foreign_keys);
    assert_eq!(s.busy_timeout_ms, 5_000);
    assert_eq!(s.user_version, SCHEMA_VERSION);
    assert_eq!(s.application_id, APPLICATION_ID);
    // The WAL and shared-memory files inherit the database file's mode.
    let issuance = SqliteIssuanceStore::new(&db).unwrap();
    issuance.record(rec("j")).unwrap();
    for side in ["custos.db-wal", "custos.db-shm"] {
        assert_eq!(mode(&dir.path().join("meta").join(side)), 0o600, "{side}");
    }
    db.integrity_check().unwrap();
}

#[test]
fn reopening_migrates_nothing_twice_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let objects = |p: &Path| -> i64 {
        Connection::open(p)
            .unwrap()
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .unwrap()
    };
    let db = Database::open(&path).unwrap();
    SqliteIssuanceStore::new(&db)
        .unwrap()
        .record(rec("j"))
        .unwrap();
    let n = objects(&path);
    assert!(n >= 3);
    for _ in 0..3 {
        let db = Database::open(&path).unwrap();
        assert_eq!(db.settings().unwrap().user_version, SCHEMA_VERSION);
    }
    assert_eq!(objects(&path), n);
    let db = Database::open(&path).unwrap();
    assert!(
        SqliteIssuanceStore::new(&db)
            .unwrap()
            .get("j")
            .unwrap()
            .is_some()
    );
}

#[test]
fn two_openers_of_a_new_file_migrate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || Database::open(path).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let db = Database::open(&path).unwrap();
    assert_eq!(db.settings().unwrap().user_version, SCHEMA_VERSION);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 4] = [
        ("text.db", b"hello, I am a config file\n".to_vec()),
        (
            "random.db",
            (0..8192u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
        ("short.db", b"SQLite".to_vec()),
        ("json.db", br#"{"users": []}"#.to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        fs::write(&path, &bytes).unwrap();
        let e = Database::open(&path).unwrap_err();
        assert!(matches!(e, OpenError::NotADatabase { .. }), "{name}: {e:?}");
        assert!(e.to_string().contains("not an SQLite database"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), bytes, "{name} untouched");
        assert!(!dir.path().join(format!("{name}-wal")).exists());
    }
    // A directory where the file should be.
    let e = Database::open(dir.path()).unwrap_err();
    assert!(matches!(e, OpenError::NotADatabase { .. }), "{e:?}");
    // A directory that does not exist.
    let e = Database::open(dir.path().join("no/such/dir/x.db")).unwrap_err();
    assert!(matches!(e, OpenError::Io { .. }), "{e:?}");
}

#[test]
fn another_applications_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    // Tables, no application id.
    let path = dir.path().join("theirs.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
        .unwrap();
    let before = fs::read(&path).unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(matches!(e, OpenError::Foreign { .. }), "{e:?}");
    assert!(e.to_string().contains("not Custos metadata"), "{e}");
    assert_eq!(fs::read(&path).unwrap(), before, "not migrated, not WAL");

    // Another application id, even on an empty schema.
    let path = dir.path().join("other-app.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA application_id = 1234;")
        .unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(matches!(e, OpenError::Foreign { .. }), "{e:?}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    drop(Database::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {};", SCHEMA_VERSION + 1))
        .unwrap();
    let e = Database::open(&path).unwrap_err();
    match e {
        OpenError::TooNew {
            found, supported, ..
        } => assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_store_cannot_be_made_on_a_file_swapped_for_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("swap.db");
    let db = Database::open(&path).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {};", SCHEMA_VERSION + 5))
        .unwrap();
    let e = SqliteScimStore::new(&db).unwrap_err();
    assert!(matches!(e, OpenError::TooNew { .. }), "{e:?}");
}

/// Damaged files: whatever the damage, opening or using the database
/// gives typed errors; nothing panics, and some error surfaces (at open,
/// at the integrity check, or on use).
#[test]
fn a_damaged_database_gives_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    {
        let db = Database::open(&good).unwrap();
        let s = SqliteIssuanceStore::new(&db).unwrap();
        let scim = SqliteScimStore::new(&db).unwrap();
        for i in 0..300 {
            s.record(rec(&format!("jti-{i:04}-{}", "x".repeat(100))))
                .unwrap();
            let mut b = Map::new();
            b.insert("userName".into(), format!("user{i}").into());
            scim.create(ResourceKind::User, &format!("u{i}"), b)
                .unwrap();
        }
    }
    // Closing the last connection checkpointed the WAL into the file.
    assert!(!dir.path().join("good.db-wal").exists());
    let bytes = fs::read(&good).unwrap();
    assert!(bytes.len() > 16 * 4096, "{} bytes", bytes.len());
    let garbage = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_246_822_519) >> 11) as u8)
            .collect()
    };
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let damages: Vec<(&str, Damage)> = vec![
        (
            "header page scribbled",
            Box::new(move |b| b[100..4096].copy_from_slice(&garbage(3996))),
        ),
        (
            "pages scribbled",
            Box::new(move |b| {
                let n = b.len() - 4096;
                b[4096..].copy_from_slice(&garbage(n));
            }),
        ),
        ("truncated", Box::new(|b| b.truncate(5000))),
        (
            "page size zeroed",
            Box::new(|b| b[16..18].copy_from_slice(&[0, 0])),
        ),
        (
            "one page scribbled",
            Box::new(move |b| b[8192..12288].copy_from_slice(&garbage(4096))),
        ),
    ];
    for (what, damage) in damages {
        let path = dir.path().join(format!("{}.db", what.replace(' ', "-")));
        let mut b = bytes.clone();
        damage(&mut b);
        fs::write(&path, &b).unwrap();
        let surfaced = match Database::open(&path) {
            Err(e) => {
                assert!(!e.to_string().is_empty());
                true
            }
            Ok(db) => {
                let mut errors = usize::from(db.integrity_check().is_err());
                if let Ok(s) = SqliteIssuanceStore::new(&db) {
                    errors += usize::from(s.since(0, 10_000).is_err());
                    errors += usize::from(s.get("jti-0150").is_err());
                    errors += usize::from(s.record(rec("new")).is_err());
                } else {
                    errors += 1;
                }
                if let Ok(s) = SqliteScimStore::new(&db) {
                    let q = StoreQuery {
                        filter: None,
                        sort: None,
                        start_index: 1,
                        count: 1_000,
                    };
                    errors += usize::from(s.list(ResourceKind::User, &q).is_err());
                }
                if let Ok(s) = SqliteRevocationStore::new(&db) {
                    let _ = s.since(0, 10);
                }
                errors > 0
            }
        };
        assert!(surfaced, "{what}: the damage went unnoticed");
    }
}

#[test]
fn open_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("named.db");
    fs::write(&path, b"nope").unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(e.to_string().contains("named.db"), "{e}");
}

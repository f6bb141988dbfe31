//! The SCIM store trait: one set of behavioural checks run against
//! `scim::MemoryStore` and `SqliteScimStore`, a differential test that
//! drives both with the same random operations and compares every answer,
//! then durability, races between connections, and the SCIM service on
//! SQLite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Barrier};

use scim::{
    AttrPath, MemoryStore, Page, ResourceKind, ScimService, ScimStore, ServiceConfig, SortSpec,
    StoreError, StoreQuery, StoredResource, parse_filter,
};
use serde_json::{Map, Value, json};
use store::{Database, SqliteScimStore};

const USER: ResourceKind = ResourceKind::User;
const GROUP: ResourceKind = ResourceKind::Group;

fn body(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn user(name: &str) -> Map<String, Value> {
    body(json!({"userName": name, "active": true}))
}

fn query(
    filter: Option<&str>,
    sort: Option<(&str, bool)>,
    start: usize,
    count: usize,
) -> StoreQuery {
    StoreQuery {
        filter: filter.map(|f| parse_filter(f).unwrap()),
        sort: sort.map(|(name, descending)| SortSpec {
            by: AttrPath {
                urn: None,
                name: name.into(),
                sub: None,
            },
            descending,
        }),
        start_index: start,
        count,
    }
}

fn ids(p: &Page) -> Vec<&str> {
    p.resources.iter().map(|r| r.id.as_str()).collect()
}

fn taken(kind: ResourceKind) -> StoreError {
    StoreError::Uniqueness {
        attribute: kind.unique_attr(),
    }
}

/// The `ScimStore` contract, on an empty store.
fn scim_contract(s: &dyn ScimStore) {
    // create: version 1, id and meta.version stamped, the rest kept.
    let mut b = user("BJensen");
    b.insert("meta".into(), json!({"created": "2025-06-01T00:00:00Z"}));
    b.insert("name".into(), json!({"givenName": "Barbara", "n": 1.5}));
    let u1 = s.create(USER, "u1", b.clone()).unwrap();
    assert_eq!(u1.id, "u1");
    assert_eq!(u1.version, 1);
    assert_eq!(u1.body["id"], "u1");
    assert_eq!(u1.body["meta"]["version"], "W/\"1\"");
    assert_eq!(u1.body["meta"]["created"], "2025-06-01T00:00:00Z");
    assert_eq!(u1.body["name"], b["name"]);
    assert_eq!(s.get(USER, "u1").unwrap(), Some(u1.clone()));
    assert_eq!(s.get(USER, "nope").unwrap(), None);
    assert_eq!(s.get(GROUP, "u1").unwrap(), None, "kinds are separate");

    // A meta that is not an object is replaced by one.
    let mut odd = user("odd");
    odd.insert("meta".into(), json!("x"));
    let odd = s.create(USER, "odd", odd).unwrap();
    assert_eq!(odd.body["meta"], json!({"version": "W/\"1\""}));

    // Ids and names are unique; names case-insensitively (Unicode).
    assert_eq!(
        s.create(USER, "u1", user("other")),
        Err(StoreError::IdExists)
    );
    assert_eq!(s.create(USER, "u2", user("bjensen")), Err(taken(USER)));
    assert_eq!(s.create(USER, "u2", user("BJENSEN")), Err(taken(USER)));
    s.create(USER, "u2", user("ÅSA")).unwrap();
    assert_eq!(s.create(USER, "u3", user("åsa")), Err(taken(USER)));
    // Id checked before name, as in MemoryStore.
    assert_eq!(
        s.create(USER, "u2", user("bjensen")),
        Err(StoreError::IdExists)
    );
    // No name, no uniqueness to keep.
    s.create(USER, "anon1", body(json!({"active": false})))
        .unwrap();
    s.create(USER, "anon2", body(json!({"active": false})))
        .unwrap();
    // Users and Groups have separate namespaces, for ids and names.
    let g1 = s
        .create(GROUP, "u1", body(json!({"displayName": "BJensen"})))
        .unwrap();
    assert_eq!(g1.version, 1);
    assert_eq!(
        s.create(GROUP, "g2", body(json!({"displayName": "bjENSEN"}))),
        Err(taken(GROUP))
    );
    s.create(GROUP, "g2", body(json!({"displayName": "Admins"})))
        .unwrap();

    // replace: compare-and-swap on the version.
    let u1v2 = s.replace(USER, "u1", 1, user("bjensen")).unwrap();
    assert_eq!(u1v2.version, 2, "keeping one's own name, other case");
    assert_eq!(u1v2.body["meta"]["version"], "W/\"2\"");
    assert_eq!(u1v2.body.get("name"), None, "the whole body is replaced");
    assert_eq!(
        s.replace(USER, "u1", 1, user("x")),
        Err(StoreError::VersionMismatch { current: 2 })
    );
    assert_eq!(
        s.replace(USER, "zz", 1, user("x")),
        Err(StoreError::NotFound)
    );
    assert_eq!(s.replace(USER, "u1", 2, user("åSA")), Err(taken(USER)));
    assert_eq!(s.get(USER, "u1").unwrap(), Some(u1v2.clone()), "unchanged");
    // A rename frees the old name.
    let u1v3 = s.replace(USER, "u1", 2, user("barbara")).unwrap();
    assert_eq!(u1v3.version, 3);
    s.create(USER, "u4", user("BJensen")).unwrap();
    assert_eq!(s.create(USER, "u5", user("Barbara")), Err(taken(USER)));
    // Dropping the name also frees it.
    s.replace(USER, "u1", 3, body(json!({"active": true})))
        .unwrap();
    s.create(USER, "u5", user("Barbara")).unwrap();

    // delete: optional version check, returns what was stored.
    let u4 = s.get(USER, "u4").unwrap().unwrap();
    assert_eq!(
        s.delete(USER, "u4", Some(7)),
        Err(StoreError::VersionMismatch { current: 1 })
    );
    assert_eq!(s.delete(USER, "u4", Some(1)), Ok(u4));
    assert_eq!(s.get(USER, "u4").unwrap(), None);
    assert_eq!(s.delete(USER, "u4", None), Err(StoreError::NotFound));
    assert_eq!(s.delete(GROUP, "u5", None), Err(StoreError::NotFound));
    let g2 = s.get(GROUP, "g2").unwrap().unwrap();
    assert_eq!(s.delete(GROUP, "g2", None), Ok(g2));
    // The name and the id are free again; a re-created id starts at 1.
    let again = s.create(USER, "u4", user("bjensen")).unwrap();
    assert_eq!(again.version, 1);
    s.create(GROUP, "g2", body(json!({"displayName": "admins"})))
        .unwrap();
}

/// Lists: creation order, paging maths, filters and sorts with ties.
fn list_contract(s: &dyn ScimStore) {
    let people = [
        ("a", "carol", 30, true),
        ("b", "alice", 20, false),
        ("c", "bob", 30, true),
        ("d", "Alan", 40, true),
        ("e", "dave", 20, true),
    ];
    for (id, name, n, active) in people {
        let mut b = user(name);
        b.insert("active".into(), json!(active));
        b.insert("title".into(), json!(format!("t{n}")));
        s.create(USER, id, b).unwrap();
    }
    s.create(GROUP, "g", body(json!({"displayName": "G"})))
        .unwrap();

    let all = s.list(USER, &query(None, None, 1, 100)).unwrap();
    assert_eq!(all.total_results, 5);
    assert_eq!(ids(&all), ["a", "b", "c", "d", "e"]);
    // A replace keeps the creation position; a re-create goes last.
    let b = s.get(USER, "b").unwrap().unwrap();
    s.replace(USER, "b", b.version, b.body.clone()).unwrap();
    let c = s.delete(USER, "c", None).unwrap();
    s.create(USER, "c", c.body).unwrap();
    let all = s.list(USER, &query(None, None, 1, 100)).unwrap();
    assert_eq!(ids(&all), ["a", "b", "d", "e", "c"]);

    // Paging: [start - 1, start - 1 + count).
    let p = s.list(USER, &query(None, None, 2, 2)).unwrap();
    assert_eq!((p.total_results, ids(&p)), (5, vec!["b", "d"]));
    let p = s.list(USER, &query(None, None, 5, 10)).unwrap();
    assert_eq!(ids(&p), ["c"]);
    let p = s.list(USER, &query(None, None, 6, 10)).unwrap();
    assert_eq!((p.total_results, ids(&p).len()), (5, 0));
    let p = s.list(USER, &query(None, None, 1, 0)).unwrap();
    assert_eq!((p.total_results, ids(&p).len()), (5, 0), "count only");
    let p = s
        .list(USER, &query(None, None, usize::MAX, usize::MAX))
        .unwrap();
    assert_eq!((p.total_results, ids(&p).len()), (5, 0));
    let p = s.list(USER, &query(None, None, 1, usize::MAX)).unwrap();
    assert_eq!(p.resources.len(), 5);

    // Filters, with SCIM semantics (userName is case-insensitive).
    let p = s
        .list(USER, &query(Some(r#"userName eq "ALICE""#), None, 1, 10))
        .unwrap();
    assert_eq!((p.total_results, ids(&p)), (1, vec!["b"]));
    let p = s
        .list(USER, &query(Some(r#"userName sw "a""#), None, 1, 10))
        .unwrap();
    assert_eq!(ids(&p), ["b", "d"]);
    let p = s
        .list(USER, &query(Some("active eq true"), None, 2, 2))
        .unwrap();
    assert_eq!((p.total_results, ids(&p)), (4, vec!["d", "e"]));
    let p = s
        .list(USER, &query(Some("active eq true"), None, 1, 0))
        .unwrap();
    assert_eq!((p.total_results, ids(&p).len()), (4, 0));
    let p = s
        .list(USER, &query(Some(r#"userName eq "G""#), None, 1, 10))
        .unwrap();
    assert_eq!(p.total_results, 0, "Groups are not Users");
    let p = s
        .list(GROUP, &query(Some(r#"displayName eq "g""#), None, 1, 10))
        .unwrap();
    assert_eq!(ids(&p), ["g"]);

    // Sorts: ties in creation order, both directions.
    let p = s
        .list(USER, &query(None, Some(("title", false)), 1, 10))
        .unwrap();
    assert_eq!(ids(&p), ["b", "e", "a", "c", "d"]);
    let p = s
        .list(USER, &query(None, Some(("title", true)), 1, 10))
        .unwrap();
    assert_eq!(ids(&p), ["d", "a", "c", "b", "e"]);
    let p = s
        .list(USER, &query(None, Some(("userName", false)), 2, 3))
        .unwrap();
    assert_eq!((p.total_results, ids(&p)), (5, vec!["b", "c", "a"]));
    let p = s
        .list(
            USER,
            &query(Some("active eq true"), Some(("userName", true)), 1, 10),
        )
        .unwrap();
    assert_eq!(ids(&p), ["e", "a", "c", "d"]);
}

fn sqlite() -> (tempfile::TempDir, Database, SqliteScimStore) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s = SqliteScimStore::new(&db).unwrap();
    (dir, db, s)
}

#[test]
fn contract_in_memory() {
    scim_contract(&MemoryStore::new());
}

#[test]
fn contract_in_sqlite() {
    let (_dir, _db, s) = sqlite();
    scim_contract(&s);
}

#[test]
fn lists_in_memory() {
    list_contract(&MemoryStore::new());
}

#[test]
fn lists_in_sqlite() {
    let (_dir, _db, s) = sqlite();
    list_contract(&s);
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

/// The same random operations on both stores; every answer must match.
#[test]
fn sqlite_answers_exactly_as_memory_does() {
    const NAMES: &[&str] = &["ann", "ANN", "Bob", "bob", "Çelik", "çelik", "dee", "eve"];
    const IDS: &[&str] = &["1", "2", "3", "4", "5", "6", "7"];
    const FILTERS: &[&str] = &[
        r#"userName eq "bob""#,
        r#"userName sw "a""#,
        r#"displayName co "e""#,
        "active eq true",
        "title pr",
        r#"title gt "t2" or not (active eq true)"#,
        r#"emails[type eq "work" and value ew "example.com"]"#,
    ];
    const SORTS: &[&str] = &["userName", "displayName", "title", "active", "emails"];
    let (_dir, _db, sql) = sqlite();
    let mem = MemoryStore::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut lists = 0;
    let mut tally = [0usize; 6];
    for step in 0..1_500 {
        let kind = if rng.below(4) == 0 { GROUP } else { USER };
        let id = rng.pick(IDS);
        let mut b = Map::new();
        if rng.below(8) != 0 {
            b.insert(kind.unique_attr().into(), json!(rng.pick(NAMES)));
        }
        if rng.below(2) == 0 {
            b.insert("active".into(), json!(rng.below(2) == 0));
        }
        if rng.below(2) == 0 {
            b.insert("title".into(), json!(format!("t{}", rng.below(4))));
        }
        if rng.below(3) == 0 {
            let domain = rng.pick(&["example.com", "example.org"]);
            b.insert(
                "emails".into(),
                json!([{"type": rng.pick(&["work", "home"]), "value": format!("x@{domain}")}]),
            );
        }
        let version = 1 + rng.below(4) as u64;
        let (m, s): (Result<Option<StoredResource>, StoreError>, _) = match rng.below(6) {
            0 | 1 => (
                mem.create(kind, id, b.clone()).map(Some),
                sql.create(kind, id, b).map(Some),
            ),
            2 => (
                mem.replace(kind, id, version, b.clone()).map(Some),
                sql.replace(kind, id, version, b).map(Some),
            ),
            3 => {
                let v = (rng.below(3) != 0).then_some(version);
                (
                    mem.delete(kind, id, v).map(Some),
                    sql.delete(kind, id, v).map(Some),
                )
            }
            4 => (mem.get(kind, id), sql.get(kind, id)),
            _ => {
                lists += 1;
                let filter = (rng.below(3) != 0).then(|| rng.pick(FILTERS));
                let sort = (rng.below(2) == 0).then(|| (rng.pick(SORTS), rng.below(2) == 0));
                let q = query(filter, sort, 1 + rng.below(8), rng.below(6));
                let (pm, ps) = (mem.list(kind, &q), sql.list(kind, &q));
                assert_eq!(pm, ps, "step {step}: list {q:?}");
                continue;
            }
        };
        assert_eq!(m, s, "step {step}");
        match &m {
            Ok(Some(_)) => tally[0] += 1,
            Ok(None) => tally[1] += 1,
            Err(StoreError::Uniqueness { .. }) => tally[2] += 1,
            Err(StoreError::VersionMismatch { .. }) => tally[3] += 1,
            Err(StoreError::IdExists) => tally[4] += 1,
            Err(StoreError::NotFound) => tally[5] += 1,
            Err(e) => panic!("step {step}: {e}"),
        }
    }
    // Every outcome was exercised, many times.
    assert!(lists > 200, "{lists} lists");
    assert!(tally.iter().all(|&n| n > 20), "{tally:?}");
    // And the final states agree.
    for kind in [USER, GROUP] {
        let q = query(None, None, 1, 100);
        assert_eq!(mem.list(kind, &q).unwrap(), sql.list(kind, &q).unwrap());
    }
}

#[test]
fn resources_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open_data_dir(dir.path()).unwrap();
        let s = SqliteScimStore::new(&db).unwrap();
        s.create(USER, "u1", user("bjensen")).unwrap();
        s.replace(USER, "u1", 1, user("BJensen")).unwrap();
        s.create(USER, "u2", user("alice")).unwrap();
        s.create(GROUP, "g1", body(json!({"displayName": "Admins"})))
            .unwrap();
    }
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s = SqliteScimStore::new(&db).unwrap();
    let u1 = s.get(USER, "u1").unwrap().unwrap();
    assert_eq!((u1.version, &u1.body["userName"]), (2, &json!("BJensen")));
    assert_eq!(s.create(USER, "u3", user("BJENSEN")), Err(taken(USER)));
    assert_eq!(
        s.create(GROUP, "g1", body(json!({}))),
        Err(StoreError::IdExists)
    );
    let p = s.list(USER, &query(None, None, 1, 10)).unwrap();
    assert_eq!(ids(&p), ["u1", "u2"]);
}

/// Racing writers on separate connections: one name, one winner; one
/// version, one successful compare-and-swap — round after round.
#[test]
fn races_between_connections_never_break_uniqueness_or_cas() {
    const THREADS: usize = 8;
    let (_dir, db, s) = sqlite();
    s.create(GROUP, "shared", body(json!({"displayName": "v"})))
        .unwrap();
    let stores: Vec<Arc<SqliteScimStore>> = (0..THREADS)
        .map(|_| Arc::new(SqliteScimStore::new(&db).unwrap()))
        .collect();
    for round in 0..10u64 {
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(t, s)| {
                let s = s.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    // The same name in different cases, each its own id.
                    let name = if t % 2 == 0 {
                        format!("race{round}")
                    } else {
                        format!("RACE{round}")
                    };
                    let created = s.create(USER, &format!("r{round}-{t}"), user(&name));
                    // A compare-and-swap on the version all of them read.
                    let swapped = s.replace(
                        GROUP,
                        "shared",
                        round + 1,
                        body(json!({"displayName": format!("v{round}-{t}")})),
                    );
                    (created, swapped)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let created: Vec<_> = results
            .iter()
            .filter_map(|(c, _)| c.as_ref().ok())
            .collect();
        assert_eq!(created.len(), 1, "round {round}: one name, one winner");
        for (c, _) in &results {
            if let Err(e) = c {
                assert_eq!(e, &taken(USER), "round {round}");
            }
        }
        let swapped: Vec<_> = results
            .iter()
            .filter_map(|(_, w)| w.as_ref().ok())
            .collect();
        assert_eq!(swapped.len(), 1, "round {round}: one CAS wins");
        for (_, w) in &results {
            if let Err(e) = w {
                assert_eq!(
                    e,
                    &StoreError::VersionMismatch { current: round + 2 },
                    "round {round}"
                );
            }
        }
        assert_eq!(s.get(GROUP, "shared").unwrap().as_ref(), Some(swapped[0]));
        let p = s
            .list(
                USER,
                &query(Some(&format!(r#"userName eq "race{round}""#)), None, 1, 10),
            )
            .unwrap();
        assert_eq!(ids(&p), [created[0].id.as_str()]);
    }
}

/// The CAS race alone, on a resource that exists before the threads start.
#[test]
fn exactly_one_compare_and_swap_wins() {
    const THREADS: usize = 8;
    let (_dir, db, s) = sqlite();
    s.create(USER, "x", user("x")).unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = SqliteScimStore::new(&db).unwrap();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                s.replace(USER, "x", 1, user(&format!("x{t}")))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(r, &Err(StoreError::VersionMismatch { current: 2 }));
    }
    let winner = results.into_iter().find_map(Result::ok).unwrap();
    assert_eq!(s.get(USER, "x").unwrap(), Some(winner));
}

/// The SCIM service (what the server mounts at /scim/v2) on SQLite.
#[test]
fn the_scim_service_runs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let db = Database::open_data_dir(dir.path()).unwrap();
        let scim = ScimService::new(SqliteScimStore::new(&db).unwrap(), ServiceConfig::default());
        let created = scim.create(
            USER,
            br#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                 "userName": "bjensen@example.com", "active": true}"#,
        );
        assert_eq!(created.status, 201);
        let id = created.body.as_ref().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let dup = scim.create(
            USER,
            br#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                 "userName": "BJENSEN@example.com"}"#,
        );
        assert_eq!(dup.status, 409);
        let patched = scim.patch(
            USER,
            &id,
            br#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "Replace", "value": {"active": "False"}}]}"#,
            None,
        );
        assert_eq!(patched.status, 200);
        assert!(patched.event.unwrap().offboards());
        id
    };
    let db = Database::open_data_dir(dir.path()).unwrap();
    let scim = ScimService::new(SqliteScimStore::new(&db).unwrap(), ServiceConfig::default());
    let found = scim.list(USER, &[("filter", r#"userName eq "BJensen@example.com""#)]);
    assert_eq!(found.status, 200);
    let b = found.body.unwrap();
    assert_eq!(b["totalResults"], 1);
    assert_eq!(b["Resources"][0]["id"], id.as_str());
    assert_eq!(b["Resources"][0]["active"], false);
    assert_eq!(b["Resources"][0]["meta"]["version"], "W/\"2\"");
}

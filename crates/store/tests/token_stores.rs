//! The token traits: one set of behavioural checks run against the
//! in-memory stores of `token` and the SQLite stores of this crate; then
//! what only a durable store can show (reopen, crash, concurrent writers
//! on separate connections, the authority restarted on the same file).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Barrier, Mutex};

use store::{Database, SqliteIssuanceStore, SqliteRevocationStore};
use token::{
    Authority, AuthorityConfig, FileKeyStore, IssuanceRecord, IssuanceStore, IssueRequest,
    ManualClock, MemoryIssuanceStore, MemoryRevocationStore, Refusal, Revocation, RevocationReason,
    RevocationStore, RevocationTarget, SubjectStatus, Subjects,
};

fn rec(jti: &str, sub: &str, exp: u64) -> IssuanceRecord {
    IssuanceRecord {
        seq: 99, // ignored by every store
        jti: jti.into(),
        kid: "kid-1".into(),
        sub: sub.into(),
        iat: exp.saturating_sub(600),
        exp,
        aud: vec!["https://shop.example".into(), "api".into()],
        client_id: Some("web".into()),
    }
}

fn with_seq(mut r: IssuanceRecord, seq: u64) -> IssuanceRecord {
    r.seq = seq;
    r
}

fn seqs(v: &[IssuanceRecord]) -> Vec<u64> {
    v.iter().map(|r| r.seq).collect()
}

/// The `IssuanceStore` contract, on an empty store.
fn issuance_contract(s: &dyn IssuanceStore) {
    assert_eq!(s.get("a").unwrap(), None);
    assert!(s.since(0, 10).unwrap().is_empty());
    assert_eq!(s.prune(u64::MAX).unwrap(), 0);

    // Strictly increasing seq from 1, ignoring the one passed in.
    let a = s.record(rec("a", "alice", 1_000)).unwrap();
    assert_eq!(a, with_seq(rec("a", "alice", 1_000), 1));
    let mut b_in = rec("b", "bob", 2_000);
    b_in.aud = Vec::new();
    b_in.client_id = None;
    b_in.sub = "사용자-ünïcode".into();
    let b = s.record(b_in.clone()).unwrap();
    assert_eq!(b, with_seq(b_in, 2));
    let c = s.record(rec("c", "carol", 3_000)).unwrap();
    assert_eq!(c.seq, 3);

    // A jti already recorded is refused and changes nothing.
    assert!(s.record(rec("a", "mallory", 9_000)).is_err());
    assert_eq!(s.get("a").unwrap(), Some(a.clone()));
    assert_eq!(seqs(&s.since(0, 100).unwrap()), [1, 2, 3]);
    let d = s.record(rec("d", "dave", 4_000)).unwrap();
    assert_eq!(d.seq, 4, "a refused record does not consume a seq");

    // get sees every record, every field.
    assert_eq!(s.get("b").unwrap(), Some(b.clone()));
    assert_eq!(s.get("zzz").unwrap(), None);
    assert_eq!(s.get("").unwrap(), None);

    // since: seq > n, in order, at most limit.
    assert_eq!(
        s.since(0, 100).unwrap(),
        [a.clone(), b.clone(), c.clone(), d.clone()]
    );
    assert_eq!(s.since(1, 2).unwrap(), [b.clone(), c.clone()]);
    assert_eq!(s.since(3, 2).unwrap(), std::slice::from_ref(&d));
    assert!(s.since(4, 10).unwrap().is_empty());
    assert!(s.since(0, 0).unwrap().is_empty());
    assert!(s.since(u64::MAX, 10).unwrap().is_empty());
    assert_eq!(seqs(&s.since(0, usize::MAX).unwrap()), [1, 2, 3, 4]);

    // prune drops exp < before (not ==), returns how many; gaps in the feed.
    assert_eq!(s.prune(2_000).unwrap(), 1);
    assert_eq!(s.get("a").unwrap(), None);
    assert_eq!(s.get("b").unwrap(), Some(b.clone()));
    assert_eq!(seqs(&s.since(0, 100).unwrap()), [2, 3, 4]);
    assert_eq!(seqs(&s.since(0, 1).unwrap()), [2]);
    // A pruned jti may be recorded again (it is then a new issuance).
    let a2 = s.record(rec("a", "alice", 5_000)).unwrap();
    assert_eq!(a2.seq, 5);

    // Pruning the newest records never lets a seq be reused.
    assert_eq!(s.prune(u64::MAX).unwrap(), 4);
    assert!(s.since(0, 100).unwrap().is_empty());
    let e = s.record(rec("e", "erin", 6_000)).unwrap();
    assert_eq!(e.seq, 6, "seq keeps increasing after pruning everything");
    assert_eq!(s.since(5, 10).unwrap(), [e]);
}

fn revocation(target: RevocationTarget, reason: RevocationReason) -> Revocation {
    Revocation {
        seq: 42, // ignored by every store
        at_ms: 1_748_736_000_123,
        target,
        reason,
    }
}

fn tok(jti: &str, sub: &str) -> RevocationTarget {
    RevocationTarget::Token {
        jti: jti.into(),
        sub: sub.into(),
        exp: 1_748_736_600,
    }
}

fn subj(sub: &str, issued_until: u64) -> RevocationTarget {
    RevocationTarget::Subject {
        sub: sub.into(),
        issued_until,
    }
}

/// The `RevocationStore` contract, on an empty store.
fn revocation_contract(s: &dyn RevocationStore) {
    assert_eq!(s.token("t1").unwrap(), None);
    assert_eq!(s.subject("alice").unwrap(), None);
    assert!(s.since(0, 10).unwrap().is_empty());

    let r1 = s
        .append(revocation(tok("t1", "alice"), RevocationReason::Requested))
        .unwrap();
    assert_eq!(r1.seq, 1);
    assert_eq!(
        r1,
        Revocation {
            seq: 1,
            ..revocation(tok("t1", "alice"), RevocationReason::Requested)
        }
    );
    // A second revocation of the same token: token() keeps the first.
    let r2 = s
        .append(revocation(tok("t1", "alice"), RevocationReason::Offboarded))
        .unwrap();
    assert_eq!(r2.seq, 2);
    assert_eq!(s.token("t1").unwrap(), Some(r1.clone()));

    // subject(): the largest issued_until; the first one on ties.
    let r3 = s
        .append(revocation(subj("alice", 50), RevocationReason::Offboarded))
        .unwrap();
    assert_eq!(s.subject("alice").unwrap(), Some(r3.clone()));
    let r4 = s
        .append(revocation(subj("alice", 40), RevocationReason::Suspended))
        .unwrap();
    assert_eq!(s.subject("alice").unwrap(), Some(r3.clone()), "narrower");
    let r5 = s
        .append(revocation(subj("alice", 50), RevocationReason::Requested))
        .unwrap();
    assert_eq!(s.subject("alice").unwrap(), Some(r3.clone()), "tie");
    let r6 = s
        .append(revocation(subj("alice", 60), RevocationReason::Suspended))
        .unwrap();
    assert_eq!(s.subject("alice").unwrap(), Some(r6.clone()), "wider");
    assert_eq!(
        [r3.seq, r4.seq, r5.seq, r6.seq],
        [3, 4, 5, 6],
        "strictly increasing, contiguous"
    );

    // Kinds do not mix.
    assert_eq!(s.subject("bob").unwrap(), None);
    assert_eq!(s.token("alice").unwrap(), None);
    let r7 = s
        .append(revocation(subj("bob", 0), RevocationReason::Requested))
        .unwrap();
    assert_eq!(s.subject("bob").unwrap(), Some(r7.clone()));
    assert_eq!(s.subject("alice").unwrap(), Some(r6.clone()));

    // The feed.
    let all = [r1, r2, r3, r4, r5, r6, r7];
    assert_eq!(s.since(0, 100).unwrap(), all);
    assert_eq!(s.since(2, 2).unwrap(), all[2..4]);
    assert_eq!(s.since(6, 100).unwrap(), all[6..]);
    assert!(s.since(7, 100).unwrap().is_empty());
    assert!(s.since(0, 0).unwrap().is_empty());
    assert!(s.since(u64::MAX, 10).unwrap().is_empty());
    assert_eq!(s.since(0, usize::MAX).unwrap().len(), 7);
}

fn db() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_data_dir(dir.path()).unwrap();
    (dir, db)
}

#[test]
fn issuance_contract_in_memory() {
    issuance_contract(&MemoryIssuanceStore::default());
}

#[test]
fn issuance_contract_in_sqlite() {
    let (_dir, db) = db();
    issuance_contract(&SqliteIssuanceStore::new(&db).unwrap());
}

#[test]
fn revocation_contract_in_memory() {
    revocation_contract(&MemoryRevocationStore::default());
}

#[test]
fn revocation_contract_in_sqlite() {
    let (_dir, db) = db();
    revocation_contract(&SqliteRevocationStore::new(&db).unwrap());
}

#[test]
fn values_sqlite_cannot_hold_are_refused_not_wrapped() {
    let (_dir, db) = db();
    let s = SqliteIssuanceStore::new(&db).unwrap();
    let mut r = rec("big", "alice", 10);
    r.exp = u64::MAX;
    assert!(s.record(r).is_err());
    assert_eq!(s.get("big").unwrap(), None);
    let mut r = rec("max", "alice", 10);
    r.exp = i64::MAX as u64;
    assert_eq!(s.record(r).unwrap().exp, i64::MAX as u64);
    assert_eq!(s.prune(i64::MAX as u64).unwrap(), 0, "exp == before stays");
    assert_eq!(s.prune(u64::MAX).unwrap(), 1, "any exp < u64::MAX");

    let v = SqliteRevocationStore::new(&db).unwrap();
    assert!(
        v.append(revocation(
            subj("alice", u64::MAX),
            RevocationReason::Requested
        ))
        .is_err()
    );
    assert!(v.since(0, 10).unwrap().is_empty());
}

#[test]
fn everything_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open_data_dir(dir.path()).unwrap();
        let s = SqliteIssuanceStore::new(&db).unwrap();
        let v = SqliteRevocationStore::new(&db).unwrap();
        for i in 0..10 {
            s.record(rec(&format!("j{i}"), "alice", 1_000 + i)).unwrap();
        }
        v.append(revocation(tok("j3", "alice"), RevocationReason::Requested))
            .unwrap();
        v.append(revocation(subj("bob", 77), RevocationReason::Offboarded))
            .unwrap();
    }
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s = SqliteIssuanceStore::new(&db).unwrap();
    let v = SqliteRevocationStore::new(&db).unwrap();
    assert_eq!(
        seqs(&s.since(0, 100).unwrap()),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        s.get("j7").unwrap(),
        Some(with_seq(rec("j7", "alice", 1_007), 8))
    );
    assert_eq!(s.record(rec("j10", "alice", 5)).unwrap().seq, 11);
    assert!(s.record(rec("j0", "alice", 5)).is_err(), "still unique");
    assert_eq!(v.token("j3").unwrap().unwrap().seq, 1);
    assert_eq!(v.subject("bob").unwrap().unwrap().target, subj("bob", 77));
    assert_eq!(
        v.append(revocation(tok("j4", "alice"), RevocationReason::Requested))
            .unwrap()
            .seq,
        3
    );
}

/// Crash safety: a child process (this test binary) records, then aborts
/// without closing anything (no destructor runs, the WAL is not
/// checkpointed); what it acknowledged is there after reopening.
#[test]
fn acknowledged_writes_survive_an_abort() {
    if let Ok(dir) = std::env::var("CUSTOS_STORE_CRASH_CHILD") {
        let db = Database::open_data_dir(&dir).unwrap();
        let s = SqliteIssuanceStore::new(&db).unwrap();
        let v = SqliteRevocationStore::new(&db).unwrap();
        for i in 0..25 {
            s.record(rec(&format!("c{i}"), "alice", 1_000)).unwrap();
        }
        v.append(revocation(subj("alice", 99), RevocationReason::Offboarded))
            .unwrap();
        // Acknowledged; now die as a kill would leave it.
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_writes_survive_an_abort",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CUSTOS_STORE_CRASH_CHILD", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(6), "the child died of SIGABRT");
    assert!(
        dir.path().join("meta/custos.db-wal").exists(),
        "the WAL was left behind un-checkpointed"
    );
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s = SqliteIssuanceStore::new(&db).unwrap();
    assert_eq!(s.since(0, 100).unwrap().len(), 25);
    let v = SqliteRevocationStore::new(&db).unwrap();
    assert_eq!(v.subject("alice").unwrap().unwrap().seq, 1);
    db.integrity_check().unwrap();
}

/// Writers on separate connections (as separate processes would be):
/// one jti is recorded once, seqs are unique and increase per writer, and
/// a reader following the feed with a cursor misses nothing.
#[test]
fn concurrent_writers_keep_jti_unique_and_the_feed_ordered() {
    const WRITERS: usize = 6;
    const EACH: usize = 40;
    let (_dir, db) = db();
    let barrier = Arc::new(Barrier::new(WRITERS + 1));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let s = SqliteIssuanceStore::new(&db).unwrap();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                for r in s.since(cursor, 7).unwrap() {
                    assert!(r.seq > cursor, "feed went backwards");
                    cursor = r.seq;
                    seen.push(r.jti);
                }
                if finished && s.since(cursor, 1).unwrap().is_empty() {
                    return seen;
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = SqliteIssuanceStore::new(&db).unwrap();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut mine = Vec::new();
                let mut shared_ok = 0;
                for i in 0..EACH {
                    mine.push(s.record(rec(&format!("w{w}-{i}"), "alice", 9)).unwrap().seq);
                    if i == EACH / 2 && s.record(rec("shared", "alice", 9)).is_ok() {
                        shared_ok += 1;
                    }
                }
                (mine, shared_ok)
            })
        })
        .collect();
    barrier.wait();
    let mut all = BTreeSet::new();
    let mut shared = 0;
    for h in writers {
        let (mine, ok) = h.join().unwrap();
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "per-writer order");
        all.extend(mine);
        shared += ok;
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.join().unwrap();
    assert_eq!(shared, 1, "exactly one writer recorded the shared jti");
    assert_eq!(all.len(), WRITERS * EACH, "no seq handed out twice");
    assert_eq!(
        seen.len(),
        WRITERS * EACH + 1,
        "the follower saw every record"
    );
    let distinct: BTreeSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len());
}

#[test]
fn concurrent_revocations_form_one_contiguous_feed() {
    let (_dir, db) = db();
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let v = SqliteRevocationStore::new(&db).unwrap();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        v.append(revocation(
                            subj(&format!("s{w}"), i),
                            RevocationReason::Requested,
                        ))
                        .unwrap()
                        .seq
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<_>>());
    let v = SqliteRevocationStore::new(&db).unwrap();
    for w in 0..4 {
        let widest = v.subject(&format!("s{w}")).unwrap().unwrap();
        assert_eq!(widest.target, subj(&format!("s{w}"), 24));
    }
}

const T0: u64 = 1_748_736_000;

#[derive(Default)]
struct People(Mutex<HashMap<String, SubjectStatus>>);

impl Subjects for People {
    fn status(&self, sub: &str) -> SubjectStatus {
        self.0
            .lock()
            .unwrap()
            .get(sub)
            .copied()
            .unwrap_or(SubjectStatus::Unknown)
    }
}

fn authority(dir: &std::path::Path, clock: Arc<ManualClock>) -> Authority {
    let db = Database::open_data_dir(dir).unwrap();
    let a = Authority::open(
        AuthorityConfig::new("https://custos.example")
            .validate()
            .unwrap(),
        clock,
        Arc::new(FileKeyStore::open(dir.join("keys")).unwrap()),
        Arc::new(SqliteIssuanceStore::new(&db).unwrap()),
        Arc::new(SqliteRevocationStore::new(&db).unwrap()),
    )
    .unwrap();
    a.ensure_current_key(&["ops-kim"]).unwrap();
    a
}

/// The token authority on SQLite, restarted: issued tokens stay issued,
/// revoked ones stay revoked, a signed-but-never-issued one stays refused.
#[test]
fn the_authority_restarts_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at_secs(T0));
    let people = People::default();
    for p in ["alice", "bob"] {
        people
            .0
            .lock()
            .unwrap()
            .insert(p.into(), SubjectStatus::Active);
    }
    let req = |sub: &str| IssueRequest {
        sub: sub.into(),
        aud: vec!["https://shop.example".into()],
        scope: Some("orders:read".into()),
        roles: vec![],
        client_id: Some("web".into()),
        lifetime_secs: None,
    };
    let (kept, revoked) = {
        let a = authority(dir.path(), clock.clone());
        let kept = a.issue(&req("alice"), &people).unwrap().token;
        let revoked = a.issue(&req("bob"), &people).unwrap().token;
        assert!(a.revoke_token(&revoked).unwrap().is_some());
        assert!(a.introspect(&kept, &people).verdict.is_ok());
        (kept, revoked)
    };
    let a = authority(dir.path(), clock.clone());
    assert!(a.introspect(&kept, &people).verdict.is_ok(), "still issued");
    assert_eq!(
        a.introspect(&revoked, &people).verdict.unwrap_err(),
        Refusal::Revoked
    );
    // Forget the issuance records (a fresh file, same keys): the token is
    // validly signed but was never issued here.
    std::fs::remove_dir_all(dir.path().join("meta")).unwrap();
    let a = authority(dir.path(), clock);
    assert_eq!(
        a.introspect(&kept, &people).verdict.unwrap_err(),
        Refusal::NeverIssued
    );
}

//! Governance records: findings round-trip with their indexed columns,
//! the schema refuses bad columns, and assessment snapshots are an
//! append-only history that survives a reopen.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use store::{AssessmentRow, Database, FindingRow, SqliteGovernStore};

fn row(id: &str, status: &str, created: i64) -> FindingRow {
    FindingRow {
        id: id.into(),
        status: status.into(),
        supplier: Some("sup-01".into()),
        owner: "vendor-risk".into(),
        severity: "high".into(),
        created_s: created,
        due_s: created + 30 * 86_400,
        escalated: "none".into(),
        body: format!(r#"{{"id":"{id}","status":"{status}"}}"#),
    }
}

fn snap(supplier: &str, at: i64, score: u32, tier: &str) -> AssessmentRow {
    AssessmentRow {
        seq: 0,
        supplier: supplier.into(),
        at_s: at,
        score,
        tier: tier.into(),
        ledger_index: Some(7),
        body: format!(r#"{{"score":{score}}}"#),
    }
}

#[test]
fn findings_round_trip_and_bad_columns_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s = SqliteGovernStore::new(&db).unwrap();
    s.put_finding(&row("f-1", "open", 100)).unwrap();
    s.put_finding(&row("f-2", "open", 200)).unwrap();
    let mut moved = row("f-1", "resolved", 100);
    moved.escalated = "manager".into();
    s.put_finding(&moved).unwrap();
    assert_eq!(s.finding("f-1").unwrap().unwrap(), moved);
    assert!(s.finding("nope").unwrap().is_none());
    let ids: Vec<String> = s.findings().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["f-2", "f-1"], "newest first");

    let mut bad = row("f-3", "closed", 1);
    assert!(s.put_finding(&bad).is_err(), "status outside its set");
    bad.status = "open".into();
    bad.severity = "urgent".into();
    assert!(s.put_finding(&bad).is_err(), "severity outside its set");
    bad.severity = "low".into();
    bad.escalated = "ceo".into();
    assert!(
        s.put_finding(&bad).is_err(),
        "escalation level outside its set"
    );
    bad.escalated = "none".into();
    bad.body = "not json".into();
    assert!(s.put_finding(&bad).is_err(), "body must be JSON");
    assert_eq!(s.findings().unwrap().len(), 2);
}

#[test]
fn assessment_history_is_append_only_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open_data_dir(dir.path()).unwrap();
        let s = SqliteGovernStore::new(&db).unwrap();
        let a = s
            .record_assessment(&snap("sup-01", 10, 75, "moderate"))
            .unwrap();
        let b = s
            .record_assessment(&snap("sup-01", 20, 40, "critical"))
            .unwrap();
        s.record_assessment(&snap("sup-02", 30, 100, "low"))
            .unwrap();
        assert!(b.seq > a.seq);
        let e = s.rewrite_assessment(a.seq, 100).unwrap_err().to_string();
        assert!(e.contains("history"), "{e}");
        assert!(
            s.record_assessment(&snap("sup-01", 40, 101, "low"))
                .is_err()
        );
        assert!(
            s.record_assessment(&snap("sup-01", 40, 90, "fine"))
                .is_err()
        );
    }
    let db = Database::open_data_dir(dir.path()).unwrap();
    let s = SqliteGovernStore::new(&db).unwrap();
    let h = s.assessments("sup-01", 10).unwrap();
    let scores: Vec<(i64, u32, &str)> = h
        .iter()
        .map(|r| (r.at_s, r.score, r.tier.as_str()))
        .collect();
    assert_eq!(scores, [(10, 75, "moderate"), (20, 40, "critical")]);
    assert_eq!(h[0].ledger_index, Some(7));
    let last = s.assessments("sup-01", 1).unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].score, 40, "the limit keeps the newest");
    assert!(s.assessments("sup-09", 10).unwrap().is_empty());
}

//! Remediation: transitions, escalation under an injected clock, the
//! weekly report, money at risk.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{DAYS, file, now};
use govern::{
    DEFAULT_PER_RECORD_CENTS, Finding, Level, Status, TransitionError, apply_update, escalation,
    escalations_between, format_usd, parse_new_finding, parse_update, weekly_report,
};

fn finding(id: &str, owner: &str, created: i64) -> Finding {
    let body = format!(
        r#"{{"title":"Stale supplier account sup-acme-001","owner":"{owner}","severity":"high",
            "supplier":"acme-support","evidence":["last access 2025-04-17"],"records_exposed":1000}}"#
    );
    parse_new_finding(body.as_bytes(), id, created).unwrap()
}

#[test]
fn escalation_fires_on_an_overdue_finding_under_an_injected_clock() {
    let org = file().org;
    let t0 = now();
    let f = finding("F-1", "kim.analyst", t0);
    assert_eq!(f.due, t0 + 30 * DAYS); // high: 30 days by default
    let at = |d: i64| escalation(&f, &org, f.due + d);
    assert_eq!(at(-1).level, Level::None);
    assert_eq!(at(0).level, Level::Owner);
    assert_eq!(at(0).notify, vec!["kim.analyst"]);
    assert_eq!(at(3 * DAYS - 1).level, Level::Owner);
    let m = at(3 * DAYS);
    assert_eq!((m.level, m.since), (Level::Manager, f.due + 3 * DAYS));
    assert_eq!(m.notify, vec!["kim.analyst", "lee.manager"]);
    let x = at(7 * DAYS);
    assert_eq!(x.level, Level::Executive);
    assert_eq!(x.notify, vec!["kim.analyst", "lee.manager", "ciso"]);
    assert_eq!(x.overdue_secs, 7 * DAYS);
    // A periodic job that ran an hour before the manager threshold and runs
    // again after it sees exactly one escalation fire.
    let fired = escalations_between(
        std::slice::from_ref(&f),
        &org,
        f.due + 3 * DAYS - 3600,
        f.due + 3 * DAYS + 60,
    );
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].level, Level::Manager);
    assert!(
        escalations_between(
            std::slice::from_ref(&f),
            &org,
            f.due + 4 * DAYS,
            f.due + 5 * DAYS
        )
        .is_empty()
    );
    // An owner without a manager: the executive role stands in.
    let g = finding("F-2", "nobody.knows", t0);
    assert_eq!(
        escalation(&g, &org, g.due + 3 * DAYS).notify,
        vec!["nobody.knows", "ciso"]
    );
    // Resolved before the due date: nothing fires, ever.
    let mut h = finding("F-3", "kim.analyst", t0);
    h.transition(
        Status::Resolved,
        "kim.analyst",
        "account removed in IdP, ticket SEC-9",
        t0 + DAYS,
    )
    .unwrap();
    assert_eq!(escalation(&h, &org, h.due + 30 * DAYS).level, Level::None);
}

#[test]
fn transitions_are_validated() {
    let t0 = now();
    let mut f = finding("F-1", "kim.analyst", t0);
    assert_eq!(
        f.transition(Status::Resolved, "kim.analyst", "", t0),
        Err(TransitionError::NoteRequired(
            "resolving needs the evidence of the fix as a note"
        ))
    );
    assert_eq!(
        f.transition(
            Status::RiskAccepted,
            "kim.analyst",
            "compensating control",
            t0
        ),
        Err(TransitionError::SelfAcceptance)
    );
    assert_eq!(
        f.transition(Status::Open, "kim.analyst", "", t0),
        Err(TransitionError::NotAllowed {
            from: "open",
            to: "open"
        })
    );
    f.transition(Status::InProgress, "kim.analyst", "", t0 + 10)
        .unwrap();
    f.transition(
        Status::RiskAccepted,
        "lee.manager",
        "supplier exits in 2 weeks",
        t0 + 20,
    )
    .unwrap();
    assert_eq!(
        f.transition(Status::Resolved, "kim.analyst", "done", t0 + 30),
        Err(TransitionError::NotAllowed {
            from: "risk_accepted",
            to: "resolved"
        })
    );
    f.transition(Status::Open, "lee.manager", "supplier stays", t0 + 40)
        .unwrap();
    assert_eq!(f.history.len(), 3);
    assert_eq!(f.status_at(t0 + 15), Some(Status::InProgress));
    assert_eq!(f.status_at(t0 + 25), Some(Status::RiskAccepted));
    assert_eq!(f.status_at(t0 - 1), None);
    // Updates from JSON.
    let u = parse_update(br#"{"status":"resolved","note":"grant g4 revoked"}"#).unwrap();
    apply_update(&mut f, &u, "kim.analyst", t0 + 50).unwrap();
    assert_eq!(f.status, Status::Resolved);
    assert_eq!(f.evidence.last().unwrap(), "grant g4 revoked");
    let bad = parse_update(br#"{"status":"resolved","note":"x"}"#).unwrap();
    let before = f.clone();
    assert!(apply_update(&mut f, &bad, "kim.analyst", t0 + 60).is_err());
    assert_eq!(f, before);
}

#[test]
fn json_errors_name_the_field() {
    let t0 = now();
    for (body, path) in [
        (
            &br#"{"title":"x","owner":"a","severity":"urgent"}"#[..],
            "$.severity",
        ),
        (
            br#"{"title":"x","owner":"a b","severity":"low"}"#,
            "$.owner",
        ),
        (
            br#"{"title":"x","owner":"a","severity":"low","due":"2020-01-01T00:00:00Z"}"#,
            "$.due",
        ),
        (
            br#"{"title":"x","owner":"a","severity":"low","due":"tomorrow"}"#,
            "$.due",
        ),
        (
            br#"{"title":"x","owner":"a","severity":"low","evidence":["ok","bad\u0007"]}"#,
            "$.evidence[1]",
        ),
        (
            br#"{"title":"x","owner":"a","severity":"low","colour":1}"#,
            "$.colour",
        ),
        (br#"{"owner":"a","severity":"low"}"#, "$"),
        (br#"[1]"#, "$[0]"),
    ] {
        let e = parse_new_finding(body, "F", t0).unwrap_err();
        assert_eq!(e.path, path, "{}: {e}", String::from_utf8_lossy(body));
    }
    assert_eq!(parse_update(br#"{}"#).unwrap_err().path, "$");
    assert_eq!(
        parse_update(br#"{"status":"done"}"#).unwrap_err().path,
        "$.status"
    );
}

#[test]
fn the_weekly_report() {
    let org = file().org;
    let week = now();
    let old = finding("F-old", "kim.analyst", week - 40 * DAYS); // due week-10d
    let mut closed = finding("F-closed", "kim.analyst", week - 3 * DAYS);
    closed
        .transition(
            Status::Resolved,
            "kim.analyst",
            "fixed, PR 12",
            week + 2 * DAYS,
        )
        .unwrap();
    let new = finding("F-new", "pat.ops", week + DAYS);
    let later = finding("F-later", "pat.ops", week + 8 * DAYS);
    let all = [old, closed, new, later];
    let r = weekly_report(&all, &org, DEFAULT_PER_RECORD_CENTS, week);
    assert_eq!(r.opened, vec!["F-new"]);
    assert_eq!(r.closed, vec!["F-closed"]);
    assert_eq!(r.overdue, vec!["F-old"]);
    assert_eq!(r.escalated.len(), 1);
    assert_eq!(r.escalated[0].level, Level::Executive);
    assert_eq!(r.open, 2);
    assert_eq!(format_usd(r.open_money_cents), "$346,000.00");
}

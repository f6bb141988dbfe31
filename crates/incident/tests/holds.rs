#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Legal holds: overlaps with inclusive starts and exclusive ends, datasets,
//! activity in time, the ledger never prunable.

use incident::{Hold, HoldError, HoldViolation, PruneKind, PruneRequest, check_prune};

const DAY: i64 = 86_400_000;
const PLACED: i64 = 100 * DAY;

fn hold(from: i64, to: Option<i64>, datasets: &[&str]) -> Hold {
    Hold {
        id: "hold-1".into(),
        reason: "preservation order".into(),
        case_ref: Some("Seoul Central 2026-123".into()),
        placed_by: "gc".into(),
        placed_at_ms: PLACED,
        from_ms: from,
        to_ms: to,
        datasets: datasets.iter().map(|d| (*d).to_string()).collect(),
        lifted: None,
    }
}

fn prune(kind: PruneKind, from: i64, to: i64, dataset: Option<&str>) -> PruneRequest {
    PruneRequest {
        kind,
        from_ms: from,
        to_ms: to,
        dataset: dataset.map(Into::into),
    }
}

#[test]
fn edges_start_inclusive_end_exclusive() {
    let holds = [hold(10 * DAY, Some(20 * DAY), &[])];
    let now = PLACED;
    // Ends exactly where the hold starts: no overlap.
    assert_eq!(
        check_prune(&holds, now, &prune(PruneKind::Alerts, 0, 10 * DAY, None)),
        Ok(())
    );
    // Starts exactly where the hold ends: no overlap.
    assert_eq!(
        check_prune(
            &holds,
            now,
            &prune(PruneKind::Alerts, 20 * DAY, 30 * DAY, None)
        ),
        Ok(())
    );
    // One millisecond into the hold at either edge: refused, with the overlap.
    assert_eq!(
        check_prune(
            &holds,
            now,
            &prune(PruneKind::ForensicIndex, 0, 10 * DAY + 1, None)
        ),
        Err(HoldViolation::Held {
            hold_id: "hold-1".into(),
            reason: "preservation order".into(),
            overlap_from_ms: 10 * DAY,
            overlap_to_ms: 10 * DAY + 1,
        })
    );
    assert!(matches!(
        check_prune(&holds, now, &prune(PruneKind::Alerts, 20 * DAY - 1, 30 * DAY, None)),
        Err(HoldViolation::Held { overlap_from_ms, overlap_to_ms, .. })
            if overlap_from_ms == 20 * DAY - 1 && overlap_to_ms == 20 * DAY
    ));
    // Covering the whole hold.
    assert!(check_prune(&holds, now, &prune(PruneKind::Alerts, 0, 99 * DAY, None)).is_err());
}

#[test]
fn open_ended_holds_cover_everything_after_their_start() {
    let holds = [hold(10 * DAY, None, &[])];
    assert!(
        check_prune(
            &holds,
            PLACED,
            &prune(PruneKind::Alerts, 5000 * DAY, 5001 * DAY, None)
        )
        .is_err()
    );
    assert_eq!(
        check_prune(&holds, PLACED, &prune(PruneKind::Alerts, 0, 10 * DAY, None)),
        Ok(())
    );
}

#[test]
fn datasets_narrow_the_hold() {
    let holds = [hold(0, Some(50 * DAY), &["web-logs"])];
    let r = |d| {
        check_prune(
            &holds,
            PLACED,
            &prune(PruneKind::ForensicIndex, DAY, 2 * DAY, d),
        )
    };
    assert!(r(Some("web-logs")).is_err());
    assert_eq!(r(Some("orders")), Ok(()));
    // A prune of every dataset touches the held one.
    assert!(r(None).is_err());
    // A hold on all datasets covers any.
    let all = [hold(0, Some(50 * DAY), &[])];
    assert!(
        check_prune(
            &all,
            PLACED,
            &prune(PruneKind::Alerts, DAY, 2 * DAY, Some("orders"))
        )
        .is_err()
    );
}

#[test]
fn holds_apply_from_placement_until_lifted() {
    let mut h = hold(0, Some(50 * DAY), &[]);
    let req = prune(PruneKind::Alerts, DAY, 2 * DAY, None);
    assert_eq!(
        check_prune(std::slice::from_ref(&h), PLACED - 1, &req),
        Ok(())
    );
    assert!(check_prune(std::slice::from_ref(&h), PLACED, &req).is_err());
    assert_eq!(
        h.lift("gc", "", PLACED + DAY),
        Err(HoldError::Empty("reason"))
    );
    assert_eq!(
        h.lift("gc", "order vacated", PLACED - 1),
        Err(HoldError::LiftBeforePlaced)
    );
    h.lift("gc", "order vacated", PLACED + DAY).unwrap();
    assert_eq!(
        h.lift("gc", "again", PLACED + 2 * DAY),
        Err(HoldError::AlreadyLifted)
    );
    // Still active the millisecond before it was lifted, not at the lift.
    assert!(check_prune(std::slice::from_ref(&h), PLACED + DAY - 1, &req).is_err());
    assert_eq!(
        check_prune(std::slice::from_ref(&h), PLACED + DAY, &req),
        Ok(())
    );
}

#[test]
fn ledger_entries_are_never_prunable_and_ranges_must_be_real() {
    assert_eq!(
        check_prune(&[], PLACED, &prune(PruneKind::LedgerEntries, 0, DAY, None)),
        Err(HoldViolation::LedgerNeverPrunable)
    );
    assert!(matches!(
        check_prune(&[], PLACED, &prune(PruneKind::Alerts, DAY, DAY, None)),
        Err(HoldViolation::BadRange { .. })
    ));
    assert_eq!(
        check_prune(&[], PLACED, &prune(PruneKind::Alerts, 0, DAY, None)),
        Ok(())
    );
}

#[test]
fn validation_and_json() {
    let mut h = hold(5, Some(5), &[]);
    assert_eq!(h.validate(), Err(HoldError::BadRange));
    h.to_ms = None;
    h.validate().unwrap();
    h.lift("gc", "done", PLACED).unwrap();
    let v = serde_json::to_value(&h).unwrap();
    assert_eq!(v["case_ref"], "Seoul Central 2026-123");
    assert_eq!(v["lifted"]["by"], "gc");
    assert!(v.get("to_ms").is_none());
    assert!(v.get("datasets").is_none());
    let back: Hold = serde_json::from_value(v).unwrap();
    assert_eq!(back, h);
    let v = serde_json::to_value(prune(PruneKind::ForensicIndex, 0, 1, Some("d"))).unwrap();
    assert_eq!(v["kind"], "forensic_index");
    let e = check_prune(
        &[hold(0, None, &[])],
        PLACED,
        &prune(PruneKind::Alerts, 0, DAY, None),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "held by hold-1 (preservation order) over 1970-01-01T00:00:00Z to 1970-01-02T00:00:00Z"
    );
}

//! Residency: storage and access abroad against PIPA Art. 28-8, GDPR
//! Chapter V and APPI Art. 28, with the bases the company declared.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{DAYS, file, now};
use govern::{DatasetAccess, residency_report};

fn access(dataset: &str, counts: &[(&str, u64)]) -> DatasetAccess {
    DatasetAccess {
        dataset: dataset.into(),
        by_country: counts.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect(),
    }
}

#[test]
fn storage_and_access_against_the_transfer_rules() {
    let f = file();
    let n = now();
    let r = residency_report(
        &f,
        &[
            access(
                "customers",
                &[("KR", 1_000_000), ("PH", 5_000), ("CN", 12), ("??", 3)],
            ),
            access("employees", &[("KR", 900), ("DE", 4)]),
        ],
        n - 7 * DAYS,
        n,
    );
    let c = &r.datasets[0];
    assert_eq!(c.dataset, "customers");
    assert_eq!(
        c.stored
            .iter()
            .map(|s| (s.country.as_str(), s.role))
            .collect::<Vec<_>>(),
        vec![("KR", "primary"), ("SG", "backup")]
    );
    assert_eq!(c.accessed_from.get("unknown"), Some(&3));
    assert_eq!(c.unchecked_jurisdictions, vec!["TW"]);
    // KR → SG storage: the declared PIPA Art. 28-8(1) item 3 basis.
    assert!(c.permitted.iter().any(|p| p.jurisdiction == "KR"
        && p.country == "SG"
        && p.kind == "storage"
        && p.basis == "pipa-28-8-1-3"));
    let v: Vec<(&str, &str, &str, u64)> = c
        .violations
        .iter()
        .map(|v| {
            (
                v.jurisdiction.as_str(),
                v.kind,
                v.country.as_str(),
                v.accesses,
            )
        })
        .collect();
    assert_eq!(
        v,
        vec![
            // Korean subjects: access ("inquiry") from CN and PH has no basis.
            ("KR", "access", "CN", 12),
            ("KR", "access", "PH", 5_000),
            // Japanese subjects: stored in KR and SG (not designated by the
            // PPC), reached from CN, PH and KR.
            ("JP", "storage", "KR", 0),
            ("JP", "storage", "SG", 0),
            ("JP", "access", "CN", 12),
            ("JP", "access", "KR", 1_000_000),
            ("JP", "access", "PH", 5_000),
        ]
    );
    assert!(c.violations[0].citation.contains("PIPA Art. 28-8(1)"));
    assert_eq!(c.violations[0].records, 33_700_000);
    assert!(
        c.violations[2]
            .message
            .contains("stored in KR (primary copy, ap-northeast-2)")
    );
    // Employees: EU subjects in Korea — adequacy (Decision (EU) 2022/254);
    // access from Germany is inside the EEA for them, but a transfer of the
    // Korean employees' data without a basis.
    let e = &r.datasets[1];
    let v: Vec<(&str, &str, &str)> = e
        .violations
        .iter()
        .map(|v| (v.jurisdiction.as_str(), v.kind, v.country.as_str()))
        .collect();
    assert_eq!(v, vec![("KR", "access", "DE")]);
    assert!(e.permitted.iter().any(|p| p.jurisdiction == "EU"
        && p.country == "KR"
        && p.basis == "adequacy"
        && p.reference.contains("2022/254")));
    assert_eq!(r.violations().count(), 8);
}

#[test]
fn a_declared_basis_clears_a_violation_and_removing_it_brings_it_back() {
    let mut f = file();
    let n = now();
    let acc = [access("customers", &[("PH", 10)])];
    let before = residency_report(&f, &acc, n - DAYS, n);
    assert!(
        before
            .violations()
            .any(|v| v.jurisdiction == "KR" && v.country == "PH")
    );
    f.transfer_bases.push(govern::TransferBasis {
        dataset: "customers".into(),
        jurisdiction: "KR".into(),
        to: "PH".into(),
        basis: "pipa-28-8-1-3".into(),
        reference: "Privacy policy §9 (entrustment: Acme Support, Philippines)".into(),
    });
    f.validate().unwrap();
    let after = residency_report(&f, &acc, n - DAYS, n);
    assert!(
        !after
            .violations()
            .any(|v| v.jurisdiction == "KR" && v.country == "PH")
    );
    f.transfer_bases.remove(0);
    let no_sg = residency_report(&f, &acc, n - DAYS, n);
    assert!(
        no_sg
            .violations()
            .any(|v| v.jurisdiction == "KR" && v.kind == "storage" && v.country == "SG")
    );
    // An unknown basis id is refused with its path.
    f.transfer_bases[0].basis = "gdpr-46-scc".into();
    let e = f.validate().unwrap_err();
    assert_eq!(e.path, "transfer_bases[0].basis");
}

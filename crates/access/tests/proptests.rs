//! Arbitrary bytes and arbitrary JSON into both parsers, through the same
//! checks the fuzz targets run (`access::fuzzing`): never a panic, never a
//! broken invariant. Stands in for long fuzzing runs on machines without
//! cargo-fuzz.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use access::fuzzing::{authz_request, grant_request};
use proptest::prelude::*;
use serde_json::{Value, json};

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_.-]{1,12}",
        "[A-Za-z0-9_.@:+=/-]{0,20}",
        ".{0,12}",
        Just("\"".to_owned()),
        Just("\\".to_owned()),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (1_796_000_000i64..1_800_000_000).prop_map(Value::from),
        token().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(token(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A grant request with each field either plausible or arbitrary.
fn grant_json() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            token().prop_map(|p| json!({"principal": p})),
            token().prop_map(|g| json!({"group": g})),
            value()
        ],
        prop_oneof![token().prop_map(Value::from), value()],
        prop_oneof![
            prop::collection::vec(token(), 0..4).prop_map(Value::from),
            value()
        ],
        prop_oneof![token().prop_map(Value::from), value()],
        prop_oneof![(0u64..20_000_000).prop_map(Value::from), value()],
        prop_oneof![
            (1_796_000_000i64..1_800_000_000).prop_map(Value::from),
            value()
        ],
        prop_oneof![
            (1_796_000_000i64..1_810_000_000).prop_map(Value::from),
            value()
        ],
        prop_oneof![token().prop_map(Value::from), value()],
        any::<bool>(),
    )
        .prop_map(|(h, d, c, p, m, f, u, t, with_from)| {
            let mut v = json!({"holder":h,"dataset":d,"categories":c,"purpose":p,
                "max_subjects_per_day":m,"valid_until":u,"ticket":t});
            if with_from {
                v["valid_from"] = f;
            }
            v
        })
}

fn authz_json() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just(Value::from("emp-1")), token().prop_map(Value::from), value()],
        prop_oneof![Just(Value::from("customers")), token().prop_map(Value::from), value()],
        prop_oneof![
            prop::sample::subsequence(vec!["name", "phone", "address"], 0..=3).prop_map(|v| json!(v)),
            value()
        ],
        prop_oneof![Just(Value::from("customer_support")), token().prop_map(Value::from)],
        prop_oneof![prop::collection::vec(token(), 0..300).prop_map(Value::from), value()],
    )
        .prop_map(|(p, d, c, u, s)| json!({"principal":p,"dataset":d,"categories":c,"purpose":u,"subjects":s}))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn grant_request_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        grant_request(&data).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn grant_request_json(v in grant_json()) {
        grant_request(&serde_json::to_vec(&v).unwrap()).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn authz_request_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        authz_request(&data).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn authz_request_json(v in authz_json()) {
        authz_request(&serde_json::to_vec(&v).unwrap()).map_err(TestCaseError::fail)?;
    }
}

//! The filter language: RFC 7644 §3.4.2.2 examples, errors with positions,
//! evaluation rules, and a printer/parser round trip (proptest).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use scim::{
    AttrPath, CompValue, CompareOp, Filter, ResourceKind, check_filter, matches, parse_filter,
    parse_path,
};
use serde_json::json;

/// Every filter example of RFC 7644 §3.4.2.2 (and the §3.4.3 search).
const RFC_EXAMPLES: &[&str] = &[
    r#"userName Eq "john""#,
    r#"Username eq "john""#,
    r#"userName eq "bjensen""#,
    r#"name.familyName co "O'Malley""#,
    r#"userName sw "J""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
    r#"title pr"#,
    r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
    r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
    r#"title pr and userType eq "Employee""#,
    r#"title pr or userType eq "Intern""#,
    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType eq "Employee" and (emails.type eq "work")"#,
    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    r#"displayName eq "Smith""#,
];

#[test]
fn rfc_7644_examples_parse_and_round_trip() {
    for text in RFC_EXAMPLES {
        let f = parse_filter(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let printed = f.to_string();
        assert_eq!(parse_filter(&printed).unwrap(), f, "{text} → {printed}");
    }
}

#[test]
fn precedence_and_case() {
    let f = parse_filter(r#"a pr OR b pr AND c pr"#).unwrap();
    assert_eq!(
        f,
        Filter::Present(AttrPath::new("a"))
            .or(Filter::Present(AttrPath::new("b")).and(Filter::Present(AttrPath::new("c"))))
    );
    let f = parse_filter(r#"userName EQ "x" and active Eq TRUE and x eq NULL"#).unwrap();
    assert_eq!(
        f.to_string(),
        r#"userName eq "x" and active eq true and x eq null"#
    );
    let f = parse_filter(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26""#,
    )
    .unwrap();
    let Filter::Compare { path, .. } = f else {
        panic!()
    };
    assert_eq!(
        path.urn.as_deref(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    assert_eq!(
        (path.name.as_str(), path.sub.as_deref()),
        ("manager", Some("value"))
    );
    // Entra ID's form: valuePath followed by a sub-attribute comparison.
    let f = parse_filter(r#"emails[type eq "work"].value eq "a@b.c""#).unwrap();
    assert_eq!(
        f,
        parse_filter(r#"emails[type eq "work" and value eq "a@b.c"]"#).unwrap()
    );
    assert_eq!(
        parse_filter("n eq 1.5e3").unwrap(),
        Filter::Compare {
            path: AttrPath::new("n"),
            op: CompareOp::Eq,
            value: CompValue::Num(serde_json::Number::from_f64(1500.0).unwrap())
        }
    );
}

#[test]
fn errors_have_positions() {
    let cases: &[(&str, usize)] = &[
        ("", 0),
        ("userName", 8),
        ("userName eq", 11),
        (r#"userName eq "x"#, 12),
        (r#"userName xx "x""#, 9),
        (r#"(userName eq "x""#, 16),
        (r#"userName eq "x" and"#, 19),
        (r#"userName eq "x")"#, 15),
        (r#"emails[type eq "work"[x pr]]"#, 21),
        (r#"a.b.c pr"#, 0),
        (r#"userName eq bjensen"#, 12),
        (r#"emails[type eq "work""#, 21),
    ];
    for (text, pos) in cases {
        let e = parse_filter(text).expect_err(text);
        assert_eq!(e.position, *pos, "{text}: {e}");
    }
    let deep = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
    assert!(parse_filter(&deep).unwrap_err().message.contains("nested"));
    let many = vec!["a pr"; 300].join(" and ");
    assert!(
        parse_filter(&many)
            .unwrap_err()
            .message
            .contains("comparisons")
    );
}

#[test]
fn paths() {
    for text in [
        "members",
        "name.givenName",
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        r#"emails[type eq "work"].value"#,
        r#"addresses[type eq "work"].streetAddress"#,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        let p = parse_path(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p.to_string(), text);
    }
    assert_eq!(
        parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .unwrap()
            .attr
            .name,
        ""
    );
    for bad in [
        "",
        "a[",
        "a.b[x pr]",
        "a[x pr] b",
        "a..b",
        "emails[type eq \"w\"].",
    ] {
        assert!(parse_path(bad).is_err(), "{bad}");
    }
}

fn user() -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "2819c223", "externalId": "Ext-1",
        "userName": "BJensen@Example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "userType": "Employee", "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984", "department": "Tour Operations",
            "manager": {"value": "26118915"}
        },
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3\""}
    })
}

#[test]
fn evaluation() {
    let u = user();
    let t = |f: &str| {
        let f = parse_filter(f).unwrap();
        check_filter(ResourceKind::User, &f).unwrap();
        matches(ResourceKind::User, &f, &u)
    };
    // caseExact=false: userName compares case-insensitively.
    assert!(t(r#"userName eq "bjensen@example.com""#));
    assert!(t(r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#));
    // caseExact=true: externalId and id do not.
    assert!(t(r#"externalId eq "Ext-1""#));
    assert!(!t(r#"externalId eq "ext-1""#));
    assert!(t(
        r#"userName sw "bj" and userName ew ".COM" and userName co "@exam""#
    ));
    assert!(t(r#"name.familyName co "ens""#));
    assert!(t(r#"emails co "jensen.org""#));
    assert!(t(r#"emails.value co "example.com""#));
    assert!(t(r#"emails[type eq "work" and value co "@example.com"]"#));
    assert!(!t(r#"emails[type eq "home" and value co "@example.com"]"#));
    assert!(t(
        r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
    ));
    assert!(t(r#"title pr or userType eq "Employee""#));
    assert!(!t("title pr"));
    assert!(t("title eq null"));
    assert!(t(r#"title ne "x""#));
    assert!(!t(r#"userType ne "employee""#));
    assert!(t(r#"not (userType eq "Intern")"#));
    assert!(t("active eq true"));
    assert!(!t("active eq false"));
    assert!(t(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
    assert!(t(r#"meta.lastModified ge "2011-05-13T06:42:34+02:00""#));
    assert!(!t(r#"meta.lastModified lt "2011-05-13T04:42:34Z""#));
    assert!(t(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
    ));
    assert!(t(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#
    ));
    assert!(t(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#
    ));
    assert!(t(r#"department eq "tour operations""#));
}

#[test]
fn check_refuses_bad_filters() {
    for f in [
        r#"nosuch eq "x""#,
        "active gt true",
        r#"active eq "x""#,
        r#"meta.lastModified gt "yesterday""#,
        r#"name eq "x""#,
        r#"userName[value eq "x"]"#,
        r#"emails[nosuch eq "x"]"#,
    ] {
        let e = check_filter(ResourceKind::User, &parse_filter(f).unwrap()).expect_err(f);
        assert_eq!(e.to_json()["scimType"], "invalidFilter", "{f}");
    }
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
        Just("not".to_owned()),
        Just("and".to_owned()),
        Just("$ref".to_owned()),
    ]
}

fn arb_path() -> impl Strategy<Value = AttrPath> {
    (
        proptest::option::of(prop_oneof![
            Just("urn:ietf:params:scim:schemas:core:2.0:User".to_owned()),
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned()),
            Just("urn:example:x".to_owned()),
        ]),
        "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
        proptest::option::of(arb_name()),
    )
        .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
}

fn arb_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>().prop_map(CompValue::Str),
        any::<i64>().prop_map(|n| CompValue::Num(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(CompValue::Num),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn arb_leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (
            arb_path(),
            proptest::sample::select(CompareOp::ALL.to_vec()),
            arb_value()
        )
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        arb_path().prop_map(Filter::Present),
    ]
}

fn arb_inner() -> impl Strategy<Value = Filter> {
    let leaf = (
        arb_name(),
        proptest::sample::select(CompareOp::ALL.to_vec()),
        arb_value(),
    )
        .prop_map(|(name, op, value)| Filter::Compare {
            path: AttrPath::new(name),
            op,
            value,
        });
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![
        3 => arb_leaf(),
        1 => ("[a-zA-Z][a-zA-Z0-9]{0,5}", arb_inner()).prop_map(|(name, f)| Filter::ValuePath {
            path: AttrPath::new(name),
            filter: Box::new(f)
        }),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
}

proptest! {
    #[test]
    fn printer_parser_round_trip(f in arb_filter()) {
        let text = f.to_string();
        let back = parse_filter(&text);
        prop_assert_eq!(back, Ok(f), "{}", text);
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,64}") {
        if let Ok(f) = parse_filter(&s) {
            prop_assert_eq!(parse_filter(&f.to_string()), Ok(f));
        }
        let _ = parse_path(&s);
    }
}

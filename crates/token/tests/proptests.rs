//! Properties: round trips of issued tokens, and that no mutation or
//! arbitrary input is ever accepted or panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{b64, req, setup};
use proptest::prelude::*;
use token::{IssueRequest, SubjectStatus};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn issued_tokens_round_trip(
        sub in "\\PC{1,40}",
        scope in proptest::option::of("[a-z:]{1,10}( [a-z:]{1,10}){0,3}"),
        roles in proptest::collection::vec("\\PC{0,12}", 0..4),
        aud in proptest::collection::vec("\\PC{1,20}", 1..3),
        lifetime in 1u64..5000,
    ) {
        let s = setup();
        s.people.set(&sub, SubjectStatus::Active);
        let r = IssueRequest { sub: sub.clone(), aud: aud.clone(), scope: scope.clone(),
            roles: roles.clone(), client_id: None, lifetime_secs: Some(lifetime) };
        let issued = s.authority.issue(&r, &s.people).unwrap();
        let ok = s.authority.introspect(&issued.token, &s.people).verdict.unwrap();
        let c = ok.claims();
        prop_assert_eq!(&c.sub, &sub);
        prop_assert_eq!(&c.aud, &aud);
        prop_assert_eq!(&c.scope, &scope);
        prop_assert_eq!(&c.roles, &roles);
        prop_assert_eq!(c.exp - c.iat, lifetime.min(900));
    }

    #[test]
    fn no_single_byte_change_is_accepted(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let s = setup();
        let t = s.authority.issue(&req("alice"), &s.people).unwrap().token;
        let mut bytes = t.clone().into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let changed = String::from_utf8_lossy(&bytes).into_owned();
        let i = s.authority.introspect(&changed, &s.people);
        prop_assert!(i.verdict.is_err(), "accepted {changed}");
        prop_assert_eq!(i.to_json(), r#"{"active":false}"#);
    }

    #[test]
    fn arbitrary_text_is_refused_without_panic(text in "\\PC{0,300}") {
        let s = setup();
        prop_assert!(s.authority.introspect(&text, &s.people).verdict.is_err());
    }

    #[test]
    fn arbitrary_json_parts_are_refused(
        header in "\\PC{0,80}",
        claims in "\\PC{0,120}",
        sig in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let s = setup();
        let t = format!("{}.{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()), b64(&sig));
        let r = s.authority.introspect(&t, &s.people).verdict.unwrap_err();
        prop_assert!(!r.code().is_empty());
    }
}

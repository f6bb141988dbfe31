//! Shared helpers of the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use token::{
    Authority, AuthorityConfig, IssueRequest, ManualClock, MemoryIssuanceStore, MemoryKeyStore,
    MemoryRevocationStore, SubjectStatus, Subjects,
};

pub const ISSUER: &str = "https://custos.example";
/// 2025-06-01T00:00:00Z.
pub const T0: u64 = 1_748_736_000;

/// Subjects with settable statuses; unknown by default.
#[derive(Default)]
pub struct People(Mutex<HashMap<String, SubjectStatus>>);

impl People {
    pub fn set(&self, sub: &str, status: SubjectStatus) {
        self.0.lock().unwrap().insert(sub.into(), status);
    }
}

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

pub struct Setup {
    pub clock: Arc<ManualClock>,
    pub authority: Arc<Authority>,
    pub people: People,
}

pub fn setup() -> Setup {
    let clock = Arc::new(ManualClock::at_secs(T0));
    let authority = Authority::open(
        AuthorityConfig::new(ISSUER).validate().unwrap(),
        clock.clone(),
        Arc::new(MemoryKeyStore::default()),
        Arc::new(MemoryIssuanceStore::default()),
        Arc::new(MemoryRevocationStore::default()),
    )
    .unwrap();
    authority.ensure_current_key(&["ops-kim"]).unwrap();
    let people = People::default();
    for p in ["alice", "bob", "carol", "ops-kim", "ops-lee"] {
        people.set(p, SubjectStatus::Active);
    }
    Setup {
        clock,
        authority: Arc::new(authority),
        people,
    }
}

pub fn req(sub: &str) -> IssueRequest {
    IssueRequest {
        sub: sub.into(),
        aud: vec!["https://shop.example".into()],
        scope: Some("orders:read".into()),
        roles: vec!["customer".into()],
        client_id: Some("web".into()),
        lifetime_secs: None,
    }
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// Splits a compact JWS into its decoded header and claims JSON.
pub fn parts(token: &str) -> (serde_json::Value, serde_json::Value, String) {
    let mut it = token.split('.');
    let h = serde_json::from_slice(&unb64(it.next().unwrap())).unwrap();
    let c = serde_json::from_slice(&unb64(it.next().unwrap())).unwrap();
    (h, c, it.next().unwrap().to_owned())
}

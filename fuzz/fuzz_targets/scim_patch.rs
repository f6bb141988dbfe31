//! `ScimService::patch` of arbitrary bytes on a fixed User and Group (in
//! memory): no panic, only 200 or a 4xx SCIM error, and a patched resource
//! still satisfies the schema (GET returns it).
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim::{MemoryStore, ResourceKind, ScimService, ServiceConfig};

fuzz_target!(|data: &[u8]| {
    let s = ScimService::new(MemoryStore::new(), ServiceConfig::default())
        .with_ids({
            let n = std::sync::atomic::AtomicU64::new(0);
            move || format!("id{}", n.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        });
    let user = br#"{"userName":"bjensen","active":true,"name":{"givenName":"B"},
        "emails":[{"value":"b@example.com","type":"work","primary":true}]}"#;
    assert_eq!(s.create(ResourceKind::User, user).status, 201);
    let group = br#"{"displayName":"Ops","members":[{"value":"id0"}]}"#;
    assert_eq!(s.create(ResourceKind::Group, group).status, 201);
    for (kind, id) in [(ResourceKind::User, "id0"), (ResourceKind::Group, "id1")] {
        let r = s.patch(kind, id, data, None);
        assert!(r.status == 200 || (400..500).contains(&r.status), "{}", r.status);
        let after = s.get(kind, id, &[] as &[(&str, &str)], None);
        assert_eq!(after.status, 200);
    }
});

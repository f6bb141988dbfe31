//! `scim::parse_filter` and `scim::parse_path` on arbitrary text: no panic;
//! what parses prints back to text that parses to the same tree; checking
//! and evaluating it against a fixed User never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim::{ResourceKind, check_filter, matches, parse_filter, parse_path};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = parse_filter(text) {
        let printed = filter.to_string();
        assert_eq!(parse_filter(&printed).as_ref(), Ok(&filter), "{printed}");
        let _ = check_filter(ResourceKind::User, &filter);
        let user = serde_json::json!({
            "id": "2819c223", "userName": "bjensen", "active": true,
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "meta": {"lastModified": "2011-05-13T04:42:34Z"}
        });
        let _ = matches(ResourceKind::User, &filter, &user);
    }
    if let Ok(path) = parse_path(text) {
        assert_eq!(parse_path(&path.to_string()).as_ref(), Ok(&path));
    }
});

//! The service end to end over the in-memory store: RFC 7644 §3.5.2 PATCH
//! examples, Okta and Entra ID request shapes, uniqueness, 404, ETags,
//! paging, projection, discovery, lifecycle events.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use scim::{
    LifecycleAction, MemoryStore, PrincipalKind, ResourceKind, ScimResponse, ScimService,
    ServiceConfig, StoreError,
};
use serde_json::{Value, json};

const USER: ResourceKind = ResourceKind::User;
const GROUP: ResourceKind = ResourceKind::Group;
const NO: &[(&str, &str)] = &[];

fn service() -> ScimService<MemoryStore> {
    let n = AtomicU64::new(0);
    let tick = AtomicU64::new(0);
    ScimService::new(
        MemoryStore::new(),
        ServiceConfig {
            base_url: "https://custos.example/scim/v2".into(),
            ..ServiceConfig::default()
        },
    )
    .with_ids(move || format!("id-{}", n.fetch_add(1, Ordering::SeqCst) + 1))
    .with_clock(move || {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(1_748_747_045 + tick.fetch_add(1, Ordering::SeqCst))
    })
}

fn body(r: &ScimResponse) -> &Value {
    r.body.as_ref().expect("a body")
}

fn expect(r: &ScimResponse, status: u16) -> &Value {
    assert_eq!(
        r.status,
        status,
        "{:#}",
        r.body.clone().unwrap_or(Value::Null)
    );
    r.body.as_ref().unwrap_or(&Value::Null)
}

fn scim_error(r: &ScimResponse, status: u16, scim_type: Option<&str>) {
    let b = expect(r, status);
    assert_eq!(
        b["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(b["status"], json!(status.to_string()));
    match scim_type {
        Some(t) => assert_eq!(b["scimType"], json!(t), "{b:#}"),
        None => assert!(b.get("scimType").is_none()),
    }
}

fn create_user(s: &ScimService<MemoryStore>, v: Value) -> String {
    let r = s.create(USER, v.to_string().as_bytes());
    expect(&r, 201)["id"].as_str().unwrap().to_owned()
}

fn patch(s: &ScimService<MemoryStore>, kind: ResourceKind, id: &str, ops: Value) -> ScimResponse {
    let req =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    s.patch(kind, id, req.to_string().as_bytes(), None)
}

/// The POST Entra ID sends (shape from Microsoft's SCIM provisioning docs).
fn entra_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
    })
}

#[test]
fn create_get_and_events() {
    let s = service();
    let r = s.create(USER, entra_user().to_string().as_bytes());
    let b = expect(&r, 201);
    assert_eq!(b["id"], "id-1");
    assert_eq!(
        r.location.as_deref(),
        Some("https://custos.example/scim/v2/Users/id-1")
    );
    assert_eq!(
        b["meta"]["location"],
        "https://custos.example/scim/v2/Users/id-1"
    );
    assert_eq!(b["meta"]["resourceType"], "User");
    assert_eq!(b["meta"]["version"], "W/\"1\"");
    assert_eq!(b["meta"]["created"], "2025-06-01T03:04:05.000Z");
    assert_eq!(r.etag.as_deref(), Some("W/\"1\""));
    assert!(b.get("roles").is_none(), "empty arrays are unassigned");
    let e = r.event.as_ref().unwrap();
    assert_eq!(e.action, LifecycleAction::Created);
    assert_eq!(e.principal.as_ref().unwrap().kind, PrincipalKind::Employee);
    assert_eq!(
        e.principal.as_ref().unwrap().department.as_deref(),
        Some("Sales")
    );
    assert!(!e.offboards());

    let g = s.get(USER, "id-1", NO, None);
    assert_eq!(expect(&g, 200), b);
    assert_eq!(g.etag.as_deref(), Some("W/\"1\""));
    assert!(g.event.is_none());
    // If-None-Match with the current version: 304.
    assert_eq!(s.get(USER, "id-1", NO, Some("W/\"1\"")).status, 304);
    assert_eq!(s.get(USER, "id-1", NO, Some("W/\"0\"")).status, 200);
}

#[test]
fn validation_errors_name_the_path() {
    let s = service();
    let cases = [
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}),
            "invalidValue",
            "userName",
        ),
        (json!({"userName": 5}), "invalidValue", "userName"),
        (
            json!({"userName": "a", "active": "yes"}),
            "invalidValue",
            "active",
        ),
        (
            json!({"userName": "a", "emails": {"value": "x"}}),
            "invalidValue",
            "emails",
        ),
        (
            json!({"userName": "a", "emails": [{"value": 1}]}),
            "invalidValue",
            "emails[0].value",
        ),
        (
            json!({"userName": "a", "name": {"givenName": []}}),
            "invalidValue",
            "name.givenName",
        ),
        (
            json!({"userName": "a", "emails": [{"value": "x", "primary": true}, {"value": "y", "primary": true}]}),
            "invalidValue",
            "emails",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "a"}),
            "invalidValue",
            "schemas",
        ),
        (
            json!({"userName": "a", "urn:custos:params:scim:schemas:extension:custos:2.0:User": {"principalKind": "robot"}}),
            "invalidValue",
            "principalKind",
        ),
        (
            json!({"userName": "a", "urn:custos:params:scim:schemas:extension:custos:2.0:User": {"principalKind": "supplier_staff"}}),
            "invalidValue",
            "supplierId",
        ),
        (json!([1]), "invalidSyntax", ""),
    ];
    for (input, t, path) in cases {
        let r = s.create(USER, input.to_string().as_bytes());
        scim_error(&r, 400, Some(t));
        assert!(
            body(&r)["detail"].as_str().unwrap().contains(path),
            "{input}: {:#}",
            body(&r)
        );
    }
    scim_error(&s.create(USER, b"{not json"), 400, Some("invalidSyntax"));
    // readOnly input is ignored, "False" is a boolean.
    let r = s.create(
        USER,
        json!({"userName": "ro", "id": "mine", "groups": [{"value": "g"}],
        "meta": {"version": "W/\"9\""}, "active": "False", "password": "hunter2"})
        .to_string()
        .as_bytes(),
    );
    let b = expect(&r, 201);
    assert_eq!(b["id"], "id-1");
    assert_eq!(b["active"], false);
    assert!(b.get("groups").is_none() && b.get("password").is_none());
    assert_eq!(b["meta"]["version"], "W/\"1\"");
}

#[test]
fn uniqueness_is_case_insensitive() {
    let s = service();
    create_user(&s, json!({"userName": "bjensen@example.com"}));
    scim_error(
        &s.create(USER, br#"{"userName":"BJensen@Example.COM"}"#),
        409,
        Some("uniqueness"),
    );
    let other = create_user(&s, json!({"userName": "other"}));
    // PUT / PATCH into a taken name: 409; own name in another case: fine.
    scim_error(
        &s.replace(USER, &other, br#"{"userName":"BJENSEN@example.com"}"#, None),
        409,
        Some("uniqueness"),
    );
    scim_error(
        &patch(
            &s,
            USER,
            &other,
            json!([{"op": "replace", "path": "userName", "value": "bjensen@EXAMPLE.com"}]),
        ),
        409,
        Some("uniqueness"),
    );
    expect(
        &s.replace(USER, &other, br#"{"userName":"OTHER"}"#, None),
        200,
    );
    // Groups: displayName.
    expect(&s.create(GROUP, br#"{"displayName":"Ops"}"#), 201);
    scim_error(
        &s.create(GROUP, br#"{"displayName":"ops"}"#),
        409,
        Some("uniqueness"),
    );
}

#[test]
fn not_found() {
    let s = service();
    scim_error(&s.get(USER, "nope", NO, None), 404, None);
    scim_error(
        &s.replace(USER, "nope", br#"{"userName":"x"}"#, None),
        404,
        None,
    );
    scim_error(
        &patch(
            &s,
            USER,
            "nope",
            json!([{"op": "add", "path": "title", "value": "x"}]),
        ),
        404,
        None,
    );
    scim_error(&s.delete(USER, "nope", None), 404, None);
    scim_error(&s.delete(GROUP, "nope", None), 404, None);
    scim_error(&s.schema("urn:nope"), 404, None);
    scim_error(&s.resource_type("Robot"), 404, None);
    let id = create_user(&s, json!({"userName": "x"}));
    assert_eq!(s.delete(USER, &id, None).status, 204);
    scim_error(&s.get(USER, &id, NO, None), 404, None);
}

/// scim2-tester's `search_with_attributes` posts to `/.search` at the root:
/// an optional endpoint (RFC 7644 §3.4.2.1, §3.4.3) answered 501 with a SCIM error
/// body (§3.12), as are `/Me` (§3.11) and `/Bulk` (§3.7), so that clients
/// tell "not supported" from "not found".
#[test]
fn root_search_me_and_bulk_are_501_not_implemented() {
    let s = service();
    for what in [
        scim::Unimplemented::RootSearch,
        scim::Unimplemented::Me,
        scim::Unimplemented::Bulk,
    ] {
        let r = s.not_implemented(what);
        scim_error(&r, 501, None);
        assert!(r.event.is_none());
        assert!(
            !body(&r)["detail"].as_str().unwrap().is_empty(),
            "{what:?} has a detail"
        );
    }
}

#[test]
fn etag_versions_and_if_match() {
    let s = service();
    let id = create_user(&s, json!({"userName": "v"}));
    let r = patch(
        &s,
        USER,
        &id,
        json!([{"op": "add", "path": "title", "value": "Tour Guide"}]),
    );
    assert_eq!(expect(&r, 200)["meta"]["version"], "W/\"2\"");
    assert_eq!(r.etag.as_deref(), Some("W/\"2\""));
    // A no-op change keeps the version and has no event.
    let r = patch(
        &s,
        USER,
        &id,
        json!([{"op": "replace", "path": "title", "value": "Tour Guide"}]),
    );
    assert_eq!(r.etag.as_deref(), Some("W/\"2\""));
    assert!(r.event.is_none());
    // Stale If-Match: 412; current: fine.
    let req = br#"{"userName":"v","title":"x"}"#;
    scim_error(&s.replace(USER, &id, req, Some("W/\"1\"")), 412, None);
    let r = s.replace(USER, &id, req, Some("W/\"2\""));
    assert_eq!(r.etag.as_deref(), Some("W/\"3\""));
    assert_eq!(
        expect(&r, 200)["meta"]["created"],
        "2025-06-01T03:04:05.000Z"
    );
    assert_ne!(
        body(&r)["meta"]["lastModified"],
        body(&r)["meta"]["created"]
    );
    scim_error(&s.delete(USER, &id, Some("W/\"2\"")), 412, None);
    assert_eq!(s.delete(USER, &id, Some("*")).status, 204);
}

#[test]
fn store_failures_are_503_without_detail() {
    let s = service();
    s.store()
        .fail_next(StoreError::Unavailable("disk on fire at /var/x".into()));
    let r = s.create(USER, br#"{"userName":"x"}"#);
    scim_error(&r, 503, None);
    assert!(!body(&r).to_string().contains("disk"));
}

#[test]
fn deactivation_entra_and_okta() {
    let s = service();
    let id = create_user(&s, entra_user());
    // Entra ID: capitalised op, no path, string boolean.
    let r = patch(
        &s,
        USER,
        &id,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(expect(&r, 200)["active"], false);
    let e = r.event.unwrap();
    assert_eq!(e.action, LifecycleAction::Deactivated);
    assert!(e.offboards());
    assert_eq!(e.changed, vec!["active"]);
    // Filter on a disabled user still returns active (the Microsoft validator checks this).
    let l = s.list(
        USER,
        &[(
            "filter",
            "userName eq \"test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1\"",
        )],
    );
    assert_eq!(expect(&l, 200)["Resources"][0]["active"], false);
    // Reactivation.
    let r = patch(
        &s,
        USER,
        &id,
        json!([{"op": "Replace", "value": {"active": true}}]),
    );
    assert_eq!(r.event.unwrap().action, LifecycleAction::Reactivated);
    // Okta: lower-case op, no path, value object.
    let r = patch(
        &s,
        USER,
        &id,
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    assert!(r.event.unwrap().offboards());
    // PUT with active=false (Okta's other way) deactivates too.
    let id2 = create_user(&s, json!({"userName": "okta@example.com", "active": true}));
    let r = s.replace(USER, &id2, br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"okta@example.com","active":false}"#, None);
    assert_eq!(r.event.unwrap().action, LifecycleAction::Deactivated);
    // DELETE offboards.
    let r = s.delete(USER, &id2, None);
    let e = r.event.unwrap();
    assert_eq!(
        (e.action, e.offboards(), e.id.as_str()),
        (LifecycleAction::Deleted, true, id2.as_str())
    );
}

#[test]
fn patch_rfc_7644_examples() {
    let s = service();
    let babs = create_user(
        &s,
        json!({"userName": "bjensen", "displayName": "Babs Jensen",
        "emails": [{"value": "babs@jensen.org", "type": "home"}],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
                      {"type": "home", "streetAddress": "456 Hollywood Blvd"}]}),
    );
    let james = create_user(&s, json!({"userName": "jsmith"}));
    let g = s.create(GROUP, br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Tour Guides"}"#);
    let gid = expect(&g, 201)["id"].as_str().unwrap().to_owned();
    // §3.5.2.1: add members.
    let r = patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "add", "path": "members",
        "value": [{"display": "Babs Jensen", "$ref": format!("https://custos.example/scim/v2/Users/{babs}"), "value": babs}]}]),
    );
    let b = expect(&r, 200);
    assert_eq!(b["members"][0]["value"], json!(babs));
    assert_eq!(b["members"][0]["type"], "User");
    assert_eq!(r.event.as_ref().unwrap().members_added, vec![babs.clone()]);
    // §3.5.2.1: add without path.
    let r = patch(
        &s,
        USER,
        &babs,
        json!([{"op": "add", "value": {
        "emails": [{"value": "babs@jensen.org", "type": "home"}], "nickName": "Babs"}}]),
    );
    let b = expect(&r, 200);
    assert_eq!(b["nickName"], "Babs");
    assert_eq!(
        b["emails"].as_array().unwrap().len(),
        1,
        "no duplicate value"
    );
    // User.groups is computed.
    assert_eq!(b["groups"][0]["value"], json!(gid));
    // §3.5.2.2: remove a member with a filter; remove all members.
    patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "add", "path": "members", "value": [{"value": james}]}]),
    );
    let r = patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "remove", "path": format!("members[value eq \"{babs}\"]")}]),
    );
    assert_eq!(
        expect(&r, 200)["members"],
        json!([{"value": james, "type": "User", "display": "jsmith",
        "$ref": format!("https://custos.example/scim/v2/Users/{james}")}])
    );
    assert_eq!(
        r.event.as_ref().unwrap().members_removed,
        vec![babs.clone()]
    );
    let r = patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "remove", "path": "members"}]),
    );
    assert!(expect(&r, 200).get("members").is_none());
    // §3.5.2.2: remove + add in one request (replace all members).
    let r = patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [{"value": babs}, {"value": james}]}]),
    );
    assert_eq!(expect(&r, 200)["members"].as_array().unwrap().len(), 2);
    // §3.5.2.2: remove a sub-attribute value via filter.
    let r = patch(
        &s,
        USER,
        &babs,
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
    );
    assert!(expect(&r, 200).get("emails").is_none());
    // §3.5.2.3: replace members.
    let r = patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "replace", "path": "members", "value": [{"value": james}]}]),
    );
    assert_eq!(expect(&r, 200)["members"].as_array().unwrap().len(), 1);
    // §3.5.2.3: replace a filtered value, and one sub-attribute of it.
    let r = patch(
        &s,
        USER,
        &babs,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]",
        "value": {"type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "primary": true}}]),
    );
    assert_eq!(
        expect(&r, 200)["addresses"][0]["streetAddress"],
        "911 Universal City Plaza"
    );
    let r = patch(
        &s,
        USER,
        &babs,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
    );
    assert_eq!(
        expect(&r, 200)["addresses"][0]["streetAddress"],
        "1010 Broadway Ave"
    );
    assert_eq!(
        body(&r)["addresses"][1]["streetAddress"],
        "456 Hollywood Blvd"
    );
    // §3.5.2.3: replace without path, several attributes.
    let r = patch(
        &s,
        USER,
        &babs,
        json!([{"op": "replace", "value": {"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}], "nickName": "Babs"}}]),
    );
    assert_eq!(expect(&r, 200)["emails"].as_array().unwrap().len(), 1);
    // Setting a new primary clears the old one.
    let r = patch(
        &s,
        USER,
        &babs,
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.org", "type": "home", "primary": true}]}]),
    );
    let emails = expect(&r, 200)["emails"].as_array().unwrap().clone();
    assert_eq!(emails.iter().filter(|e| e["primary"] == true).count(), 1);
    assert_eq!(emails[1]["primary"], true);
    // A failing operation leaves the resource unchanged (all or nothing).
    let before = s.get(USER, &babs, NO, None);
    scim_error(
        &patch(
            &s,
            USER,
            &babs,
            json!([{"op": "replace", "path": "title", "value": "x"},
        {"op": "replace", "path": "id", "value": "y"}]),
        ),
        400,
        Some("mutability"),
    );
    assert_eq!(s.get(USER, &babs, NO, None), before);
}

#[test]
fn patch_errors() {
    let s = service();
    let id = create_user(&s, json!({"userName": "e"}));
    let cases = [
        (
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            "mutability",
        ),
        (
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "value": {"groups": []}}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "value": {"id": "other"}}]),
            "mutability",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (
            json!([{"op": "replace", "path": "emails[type eq \"work\" or value pr].value", "value": "x"}]),
            "noTarget",
        ),
        (
            json!([{"op": "replace", "path": "nosuch", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "emails[", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "name.nosuch", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "move", "path": "title", "value": "x"}]),
            "invalidSyntax",
        ),
        (json!([{"op": "add", "path": "title"}]), "invalidSyntax"),
        (json!([]), "invalidSyntax"),
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "remove", "path": "userName"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "urn:custos:params:scim:schemas:extension:custos:2.0:User:principalKind", "value": "robot"}]),
            "invalidValue",
        ),
    ];
    for (ops, t) in cases {
        let r = patch(&s, USER, &id, ops.clone());
        scim_error(&r, 400, Some(t));
        let detail = body(&r)["detail"].as_str().unwrap();
        assert!(
            detail.contains("Operations") || detail.contains("is required"),
            "{ops}: {detail}"
        );
    }
    scim_error(
        &s.patch(USER, &id, br#"{"schemas":["urn:x"],"Operations":[]}"#, None),
        400,
        Some("invalidSyntax"),
    );
    // A member that does not exist: `members.value` is "the value of an
    // 'id' attribute of a SCIM resource" (RFC 7643 §4.2). scim-sanity's
    // "add member" check sends `fake-member-id` and expects 200; refused.
    let g = s.create(GROUP, br#"{"displayName":"G"}"#);
    let gid = body(&g)["id"].as_str().unwrap().to_owned();
    scim_error(
        &patch(
            &s,
            GROUP,
            &gid,
            json!([{"op": "add", "path": "members", "value": [{"value": "ghost"}]}]),
        ),
        400,
        Some("invalidValue"),
    );
    scim_error(
        &patch(
            &s,
            GROUP,
            &gid,
            json!([{"op": "add", "path": "members", "value": [{"value": gid}]}]),
        ),
        400,
        Some("invalidValue"),
    );
}

#[test]
fn patch_entra_and_okta_shapes() {
    let s = service();
    let id = create_user(&s, entra_user());
    // Entra ID: attribute updates, one op per attribute, capitalised ops.
    let r = patch(
        &s,
        USER,
        &id,
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "701984"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "mgr-1"}},
            {"op": "Add", "path": "urn:custos:params:scim:schemas:extension:custos:2.0:User:region", "value": "KR"},
        ]),
    );
    let b = expect(&r, 200).clone();
    assert_eq!(b["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(b["emails"][0]["primary"], true);
    assert_eq!(b["name"]["familyName"], "updatedFamilyName");
    assert_eq!(b["name"]["givenName"], "givenName");
    assert_eq!(
        b["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    let ent = &b["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(
        (
            ent["employeeNumber"].as_str(),
            ent["manager"]["value"].as_str(),
            ent["department"].as_str()
        ),
        (Some("701984"), Some("mgr-1"), Some("Sales"))
    );
    assert!(b["schemas"].as_array().unwrap().contains(&json!(
        "urn:custos:params:scim:schemas:extension:custos:2.0:User"
    )));
    let e = r.event.unwrap();
    assert_eq!(e.action, LifecycleAction::Updated);
    assert!(
        e.changed.contains(
            &"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber".to_owned()
        ),
        "{:?}",
        e.changed
    );
    assert_eq!(e.principal.unwrap().region.as_deref(), Some("KR"));
    // No-path value whose keys are paths (URN-prefixed too).
    let r = patch(
        &s,
        USER,
        &id,
        json!([{"op": "replace", "value": {
        "name.givenName": "Barbara",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tours",
        "urn:custos:params:scim:schemas:extension:custos:2.0:User": {"principalKind": "Supplier_Staff", "supplierId": "sup-7"}}}]),
    );
    let b = expect(&r, 200);
    assert_eq!(b["name"]["givenName"], "Barbara");
    assert_eq!(
        b["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Tours"
    );
    assert_eq!(
        b["urn:custos:params:scim:schemas:extension:custos:2.0:User"]["principalKind"],
        "supplier_staff"
    );
    let p = r.event.unwrap().principal.unwrap();
    assert_eq!(
        (p.kind, p.supplier_id.as_deref()),
        (PrincipalKind::SupplierStaff, Some("sup-7"))
    );
    // Remove the manager through the extension path.
    let r = patch(
        &s,
        USER,
        &id,
        json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
    );
    assert!(
        expect(&r, 200)["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
            .get("manager")
            .is_none()
    );

    // Groups: Entra ID adds and removes members with a path and a value list.
    let u2 = create_user(&s, json!({"userName": "second"}));
    let g = s.create(GROUP, json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName", "members": []}).to_string().as_bytes());
    let gid = expect(&g, 201)["id"].as_str().unwrap().to_owned();
    let r = patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "Add", "path": "members", "value": [{"value": id}, {"value": u2}]}]),
    );
    assert_eq!(expect(&r, 200)["members"].as_array().unwrap().len(), 2);
    let r = patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "Remove", "path": "members", "value": [{"value": id}]}]),
    );
    assert_eq!(expect(&r, 200)["members"][0]["value"], json!(u2));
    // Okta: rename with the unchanged id in the value; members by filter.
    let r = patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "replace", "value": {"id": gid, "displayName": "Renamed"}}]),
    );
    assert_eq!(expect(&r, 200)["displayName"], "Renamed");
    let r = patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
    );
    assert!(expect(&r, 200).get("members").is_none());
    // Deleting a user removes it from groups.
    patch(
        &s,
        GROUP,
        &gid,
        json!([{"op": "add", "path": "members", "value": [{"value": u2}]}]),
    );
    assert_eq!(s.delete(USER, &u2, None).status, 204);
    assert!(
        expect(&s.get(GROUP, &gid, NO, None), 200)
            .get("members")
            .is_none()
    );
    // Entra ID's excludedAttributes=members.
    let r = s.get(GROUP, &gid, &[("excludedAttributes", "members")], None);
    assert!(expect(&r, 200).get("members").is_none());
}

#[test]
fn list_paging_sorting_projection() {
    let s = service();
    for i in 0..25 {
        create_user(
            &s,
            json!({"userName": format!("user{i:02}"), "title": if i % 2 == 0 { "even" } else { "odd" }}),
        );
    }
    let l = s.list(USER, NO);
    let b = expect(&l, 200);
    assert_eq!(
        b["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(
        (
            b["totalResults"].as_u64(),
            b["startIndex"].as_u64(),
            b["itemsPerPage"].as_u64()
        ),
        (Some(25), Some(1), Some(25))
    );
    let page = |q: &[(&str, &str)]| {
        let b = expect(&s.list(USER, q), 200).clone();
        let names: Vec<String> = b["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap_or("").to_owned())
            .collect();
        (
            b["totalResults"].as_u64().unwrap(),
            b["startIndex"].as_u64().unwrap(),
            b["itemsPerPage"].as_u64().unwrap(),
            names,
        )
    };
    let (t, si, n, names) = page(&[("startIndex", "11"), ("count", "10")]);
    assert_eq!((t, si, n), (25, 11, 10));
    assert_eq!(names.first().unwrap(), "user10");
    let (_, _, n, names) = page(&[("startIndex", "21"), ("count", "10")]);
    assert_eq!((n, names.last().unwrap().as_str()), (5, "user24"));
    assert_eq!(page(&[("startIndex", "26")]).2, 0);
    // startIndex < 1 reads as 1; count < 0 as 0; count above the cap is capped.
    assert_eq!(page(&[("startIndex", "0"), ("count", "1")]).1, 1);
    assert_eq!(
        page(&[("startIndex", "-5"), ("count", "1")]).3,
        vec!["user00"]
    );
    let (t, _, n, _) = page(&[("count", "-1")]);
    assert_eq!((t, n), (25, 0));
    assert_eq!(page(&[("count", "0")]).2, 0);
    scim_error(
        &s.list(USER, &[("count", "ten")]),
        400,
        Some("invalidValue"),
    );
    // Filter + sort.
    let (t, _, _, names) = page(&[
        ("filter", "title eq \"ODD\""),
        ("sortBy", "userName"),
        ("sortOrder", "descending"),
        ("count", "3"),
    ]);
    assert_eq!(
        (t, names),
        (
            12,
            vec!["user23".to_owned(), "user21".into(), "user19".into()]
        )
    );
    scim_error(
        &s.list(USER, &[("filter", "title eq")]),
        400,
        Some("invalidFilter"),
    );
    scim_error(
        &s.list(USER, &[("filter", "nosuch pr")]),
        400,
        Some("invalidFilter"),
    );
    scim_error(
        &s.list(USER, &[("sortOrder", "up")]),
        400,
        Some("invalidValue"),
    );
    // Projection.
    let b = expect(
        &s.list(USER, &[("attributes", "userName"), ("count", "1")]),
        200,
    )
    .clone();
    let r = b["Resources"][0].as_object().unwrap();
    let mut keys: Vec<&String> = r.keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let b = expect(
        &s.list(
            USER,
            &[("excludedAttributes", "title,meta,id"), ("count", "1")],
        ),
        200,
    )
    .clone();
    assert!(b["Resources"][0].get("title").is_none() && b["Resources"][0].get("meta").is_none());
    assert!(b["Resources"][0].get("id").is_some());
    // The cap.
    let small = ScimService::new(
        MemoryStore::new(),
        ServiceConfig {
            max_results: 3,
            ..ServiceConfig::default()
        },
    );
    for i in 0..5 {
        small.create(
            USER,
            json!({"userName": format!("u{i}")}).to_string().as_bytes(),
        );
    }
    let b = expect(&small.list(USER, &[("count", "100")]), 200).clone();
    assert_eq!(
        (b["totalResults"].as_u64(), b["itemsPerPage"].as_u64()),
        (Some(5), Some(3))
    );
    // POST /.search.
    let r = s.search(USER, br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes":["displayName","userName"],"filter":"userName sw \"user0\"","startIndex":1,"count":2}"#);
    let b = expect(&r, 200);
    assert_eq!(
        (b["totalResults"].as_u64(), b["itemsPerPage"].as_u64()),
        (Some(10), Some(2))
    );
}

#[test]
fn discovery_documents() {
    let s = service();
    let spc = s.service_provider_config();
    let b = expect(&spc, 200);
    assert_eq!(b["patch"]["supported"], true);
    assert_eq!(b["bulk"]["supported"], false);
    assert_eq!(b["filter"], json!({"supported": true, "maxResults": 200}));
    assert_eq!(b["changePassword"]["supported"], false);
    assert_eq!(b["sort"]["supported"], true);
    assert_eq!(b["etag"]["supported"], true);
    let schemas = s.schemas();
    let b = expect(&schemas, 200);
    let ids: Vec<&str> = b["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            scim::USER_SCHEMA,
            scim::GROUP_SCHEMA,
            scim::ENTERPRISE_SCHEMA,
            scim::CUSTOS_SCHEMA
        ]
    );
    let user = &b["Resources"][0];
    let user_name = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(
        (
            user_name["required"].as_bool(),
            user_name["caseExact"].as_bool(),
            user_name["uniqueness"].as_str()
        ),
        (Some(true), Some(false), Some("server"))
    );
    let groups = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "groups")
        .unwrap();
    assert_eq!(groups["mutability"], "readOnly");
    let kinds = &b["Resources"][3]["attributes"][0];
    assert_eq!(
        kinds["canonicalValues"],
        json!(["employee", "service", "supplier_staff"])
    );
    let rt = s.resource_types();
    let b = expect(&rt, 200);
    assert_eq!(b["Resources"][0]["endpoint"], "/Users");
    assert_eq!(
        b["Resources"][0]["schemaExtensions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(b["Resources"][1]["endpoint"], "/Groups");
    expect(&s.schema(scim::ENTERPRISE_SCHEMA), 200);
    expect(&s.resource_type("user"), 200);
}

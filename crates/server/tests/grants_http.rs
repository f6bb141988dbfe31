//! Grants and authorization over HTTP, against a real `custos serve`:
//! request with every problem's JSON path, approval by someone else only,
//! Cedar decisions for group members, the daily subject limit, offboarding,
//! revocation, persistence across a restart, the Cedar text, and every
//! change and decision in the ledger as valid OCSF 1.3.0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod control;

use std::time::SystemTime;

use control::{GROUP, Srv, is_control, ocsf_valid};
use serde_json::{Value, json};
use server::Role;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn request(holder: Value, limit: u64, ticket: &str) -> Value {
    let now = now();
    json!({
        "holder": holder,
        "dataset": "customers",
        "categories": ["name", "phone", "address"],
        "purpose": "customer_support",
        "max_subjects_per_day": limit,
        "valid_from": now - 60,
        "valid_until": now + 7 * 86_400,
        "ticket": ticket,
    })
}

fn ask(principal: &str, subjects: &[String]) -> Value {
    json!({
        "principal": principal,
        "dataset": "customers",
        "categories": ["name", "address"],
        "purpose": "customer_support",
        "subjects": subjects,
    })
}

fn subjects(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
}

impl Srv {
    fn authorize(&self, body: &Value) -> Value {
        self.post_json("/v1/authorize", Some(&self.gateway), body)
            .expect(200)
            .json()
    }
}

fn codes(d: &Value) -> Vec<String> {
    d["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn grants_are_requested_approved_decided_revoked_and_recorded() {
    let mut s = Srv::new();
    // alice requested; a second credential named alice is the same person.
    let alice_again = s.cred(Role::Admin, "alice");
    let bob = s.cred(Role::Admin, "bob");
    let cs1 = s.scim_user("emp-cs-1");
    let cs2 = s.scim_user("emp-cs-2");
    s.scim_user("emp-other");
    s.scim_user("emp-direct");
    s.scim_call(
        "POST",
        "/scim/v2/Groups",
        Some(
            &json!({"schemas": [GROUP], "displayName": "customer-service",
                     "members": [{"value": cs1}, {"value": cs2}]}),
        ),
    )
    .expect(201);

    // Roles: requests need admin, decisions need gateway.
    let body = request(json!({"group": "customer-service"}), 5, "CS-1");
    assert_eq!(s.post_json("/v1/grants", None, &body).status, 401);
    assert_eq!(
        s.post_json("/v1/grants", Some(&s.gateway), &body).status,
        403
    );
    assert_eq!(
        s.post_json("/v1/authorize", Some(&s.admin), &ask("emp-cs-1", &[]))
            .status,
        403
    );

    // An invalid request: 400 with every problem's JSON path.
    let bad = s
        .post_json(
            "/v1/grants",
            Some(&s.admin),
            &json!({"holder": {"group": "customer-service"}, "dataset": 7,
                    "categories": [], "purpose": "customer_support",
                    "max_subjects_per_day": 0, "valid_until": 1, "ticket": "T"}),
        )
        .expect(400)
        .json();
    assert_eq!(bad["error"], "invalid_request");
    let paths: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{bad}"))
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for p in ["$.dataset", "$.categories", "$.max_subjects_per_day"] {
        assert!(paths.contains(&p), "{p} not in {paths:?}");
    }
    assert!(paths.len() >= 3 && paths.iter().all(|p| p.starts_with('$')));
    assert!(
        bad["errors"][0]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(
        s.get("/v1/grants", Some(&s.admin)).json()["grants"],
        json!([])
    );

    // A valid request: pending until someone else approves it.
    let g = s
        .post_json("/v1/grants", Some(&s.admin), &body)
        .expect(201)
        .json();
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["state"], "pending");
    assert_eq!(g["requested_by"], "alice");
    let pending = s.authorize(&ask("emp-cs-1", &subjects("c", 1)));
    assert_eq!(pending["decision"], "deny");
    assert_eq!(codes(&pending), ["grant_pending_approval"]);
    for by in [&s.admin, &alice_again] {
        let r = s
            .req(
                "POST",
                &format!("/v1/grants/{gid}/approve"),
                Some(by),
                None,
                None,
            )
            .expect(409);
        assert_eq!(r.json()["error"], "approval_refused");
    }
    s.req(
        "POST",
        &format!("/v1/grants/{gid}/approve"),
        Some(&s.gateway),
        None,
        None,
    )
    .expect(403);
    let approved = s
        .req(
            "POST",
            &format!("/v1/grants/{gid}/approve"),
            Some(&bob),
            None,
            None,
        )
        .expect(200)
        .json();
    assert_eq!(approved["state"], "active");
    assert_eq!(approved["approved_by"], "bob");
    s.req("POST", "/v1/grants/g-nope/approve", Some(&bob), None, None)
        .expect(404);

    // Decisions: group members are allowed up to the daily limit (5).
    let d = s.authorize(&ask("emp-cs-1", &subjects("c", 3)));
    assert_eq!(d["decision"], "allow", "{d}");
    assert_eq!(d["grant"], gid.as_str());
    assert_eq!(d["subjects_today"], 3);
    assert_eq!(d["limit"], 5);
    let over = s.authorize(&ask("emp-cs-1", &subjects("d", 3)));
    assert_eq!(over["decision"], "deny", "{over}");
    assert_eq!(codes(&over), ["daily_subject_limit"]);
    // The same subjects again are not new ones.
    assert_eq!(
        s.authorize(&ask("emp-cs-1", &subjects("c", 3)))["decision"],
        "allow"
    );
    let other = s.authorize(&ask("emp-other", &subjects("c", 1)));
    assert_eq!(other["decision"], "deny");
    assert_eq!(codes(&other), ["no_grant"]);
    // A category outside the grant.
    let mut wider = ask("emp-cs-2", &subjects("c", 1));
    wider["categories"] = json!(["entrance_code"]);
    assert_eq!(codes(&s.authorize(&wider)), ["category_not_granted"]);
    // An invalid decision request names its paths.
    let bad = s
        .post_json("/v1/authorize", Some(&s.gateway), &json!({"principal": 1}))
        .expect(400)
        .json();
    assert!(
        bad["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{bad}"
    );

    // A grant held directly, approved, then revoked with a reason.
    let direct = s
        .post_json(
            "/v1/grants",
            Some(&s.admin),
            &request(json!({"principal": "emp-direct"}), 100, "CS-2"),
        )
        .expect(201)
        .json();
    let did = direct["id"].as_str().unwrap().to_owned();
    s.req(
        "POST",
        &format!("/v1/grants/{did}/approve"),
        Some(&bob),
        None,
        None,
    )
    .expect(200);
    assert_eq!(
        s.authorize(&ask("emp-direct", &subjects("e", 2)))["decision"],
        "allow"
    );
    s.post_json(&format!("/v1/grants/{did}/revoke"), Some(&bob), &json!({}))
        .expect(400);
    let revoked = s
        .post_json(
            &format!("/v1/grants/{did}/revoke"),
            Some(&bob),
            &json!({"reason": "ticket closed"}),
        )
        .expect(200)
        .json();
    assert_eq!(revoked["state"], "revoked");
    let d = s.authorize(&ask("emp-direct", &subjects("e", 2)));
    assert_eq!(d["decision"], "deny");
    assert_eq!(codes(&d), ["grant_revoked"]);

    // Grants survive a restart; so do the day's subject counts' effects on
    // nothing else: the group grant still allows its members.
    s.restart();
    let g = s
        .get(&format!("/v1/grants/{gid}"), Some(&s.admin))
        .expect(200)
        .json();
    assert_eq!(g["state"], "active");
    assert_eq!(g["approved_by"], "bob");
    assert_eq!(
        s.get(&format!("/v1/grants/{did}"), Some(&s.admin)).json()["state"],
        "revoked"
    );
    assert_eq!(
        s.authorize(&ask("emp-cs-2", &subjects("c", 1)))["decision"],
        "allow"
    );
    let listed = s.get("/v1/grants", Some(&s.admin)).json();
    assert_eq!(listed["grants"].as_array().unwrap().len(), 2);
    let policies = s.get("/v1/grants/policies", Some(&s.admin)).expect(200);
    assert!(
        policies
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let cedar = policies.text();
    assert!(cedar.contains(&gid), "{cedar}");
    assert!(cedar.contains("permit"), "{cedar}");
    assert!(
        !cedar.contains(&did),
        "a revoked grant permits nothing: {cedar}"
    );
    s.get("/v1/grants/policies", Some(&s.gateway)).expect(403);

    // Offboarding a group member: denied as offboarded.
    s.req(
        "POST",
        "/v1/principals/emp-cs-1/offboard",
        Some(&s.admin),
        None,
        None,
    )
    .expect(200);
    let d = s.authorize(&ask("emp-cs-1", &subjects("c", 1)));
    assert_eq!(d["decision"], "deny");
    assert!(
        codes(&d).contains(&"principal_offboarded".to_owned()),
        "{d}"
    );
    // Offboarding a direct holder revokes its grants.
    let third = s
        .post_json(
            "/v1/grants",
            Some(&s.admin),
            &request(json!({"principal": "emp-other"}), 10, "CS-3"),
        )
        .expect(201)
        .json();
    let tid = third["id"].as_str().unwrap().to_owned();
    s.req(
        "POST",
        &format!("/v1/grants/{tid}/approve"),
        Some(&bob),
        None,
        None,
    )
    .expect(200);
    let done = s
        .req(
            "POST",
            "/v1/principals/emp-other/offboard",
            Some(&s.admin),
            None,
            None,
        )
        .expect(200)
        .json();
    assert_eq!(done["revoked_grants"], json!([tid]));
    assert_eq!(
        s.get(&format!("/v1/grants/{tid}"), Some(&s.admin)).json()["state"],
        "revoked"
    );

    // The ledger: every change and every decision.
    let req = s.ops("custos.grant.request", 3);
    assert_eq!(req.len(), 3);
    assert_eq!(req[0]["resources"][0]["uid"], gid.as_str());
    assert_eq!(req[0]["unmapped"]["custos"]["requested_by"], "alice");
    assert_eq!(req[0]["metadata"]["log_name"], "custos.access");
    let appr = s.ops("custos.grant.approve", 3);
    assert_eq!(
        appr.len(),
        3,
        "refused approvals are not changes: {appr:#?}"
    );
    assert_eq!(appr[0]["unmapped"]["custos"]["approved_by"], "bob");
    let rev = s.ops("custos.grant.revoke", 2);
    assert_eq!(rev.len(), 2);
    assert_eq!(
        rev[0]["unmapped"]["custos"]["revoke_reason"],
        "ticket closed"
    );
    assert_eq!(
        rev[1]["unmapped"]["custos"]["revoke_reason"],
        "principal offboarded"
    );
    let decisions = s.ops("custos.authorize", 10);
    assert_eq!(decisions.len(), 10, "one entry per decision");
    let allow = &decisions[1];
    assert_eq!(allow["unmapped"]["custos"]["decision"], "allow");
    assert_eq!(allow["unmapped"]["custos"]["grant"], gid.as_str());
    assert_eq!(allow["unmapped"]["custos"]["subject_count"], 3);
    assert_eq!(allow["status_id"], 1);
    assert_eq!(allow["resources"][0]["uid"], "emp-cs-1");
    let over = &decisions[2];
    assert_eq!(over["unmapped"]["custos"]["decision"], "deny");
    assert_eq!(
        over["unmapped"]["custos"]["reasons"],
        json!(["daily_subject_limit"])
    );
    assert_eq!(over["status_id"], 2);
    // Subject ids are not in decision entries, only their count.
    for (raw, v) in s.ledger() {
        if v["api"]["operation"] == "custos.authorize" {
            assert!(!String::from_utf8_lossy(&raw).contains("c-0000"));
        }
    }
    let control: Vec<Value> = s
        .ledger()
        .into_iter()
        .map(|(_, v)| v)
        .filter(is_control)
        .collect();
    ocsf_valid(&control);
}

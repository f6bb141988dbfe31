//! The checks the fuzz targets run (`fuzz/fuzz_targets/grant_request.rs`,
//! `authz_request.rs`), public so that `tests/fuzz_corpus.rs` replays the
//! committed corpus through exactly the same code. Each returns `Err`
//! naming a broken invariant; the target panics with it.

use std::str::FromStr;
use std::sync::OnceLock;

use cedar_policy::{PolicySet, Schema, ValidationMode, Validator};

use crate::{
    Engine, Grant, GrantError, Principal, PrincipalKind, PrincipalStatus, approve,
    parse_authz_request, parse_grant_request,
};

/// What a parser made of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Parsed.
    Accepted,
    /// Refused; the path of the first problem.
    Refused(String),
}

/// The fixed clock of the fixtures: 2026-12-02T00:00:00Z.
pub const NOW: i64 = 1_796_169_600;

fn validator() -> Result<&'static Validator, String> {
    static V: OnceLock<Result<Validator, String>> = OnceLock::new();
    V.get_or_init(|| {
        Schema::from_cedarschema_str(crate::CEDAR_SCHEMA)
            .map(|(s, _warnings)| Validator::new(s))
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn refused(e: &GrantError) -> Result<Outcome, String> {
    let Some(first) = e.problems.first() else {
        return Err("refused with no problem".into());
    };
    for p in &e.problems {
        if !(p.path.starts_with('$') || p.path == "id" || p.path == "requested_by")
            || p.reason.is_empty()
        {
            return Err(format!("bad problem {p:?}"));
        }
    }
    Ok(Outcome::Refused(first.path.clone()))
}

/// The Cedar policy set of `engine` must parse, hold `n` policies and
/// validate against [`CEDAR_SCHEMA`](crate::CEDAR_SCHEMA) in strict mode.
pub fn check_policies(engine: &Engine) -> Result<(), String> {
    let text = engine.cedar_text();
    let set = PolicySet::from_str(&text)
        .map_err(|e| format!("generated text does not parse: {e}\n{text}"))?;
    let n = set.policies().count();
    if n != engine.policy_count() {
        return Err(format!(
            "{n} policies parsed, engine counts {}",
            engine.policy_count()
        ));
    }
    let result = validator()?.validate(&set, ValidationMode::Strict);
    if !result.validation_passed() {
        let errors: Vec<String> = result
            .validation_errors()
            .map(ToString::to_string)
            .collect();
        return Err(format!("validation failed: {}\n{text}", errors.join("; ")));
    }
    Ok(())
}

/// A grant request: no panic; a refusal names paths; an accepted grant
/// round-trips through JSON, approves, compiles to exactly one policy
/// that validates against the schema, and grants its holder what it says.
pub fn grant_request(data: &[u8]) -> Result<Outcome, String> {
    let grant = match parse_grant_request(data, "requester-1", NOW, "g-fuzz".into()) {
        Ok(g) => g,
        Err(e) => return refused(&e),
    };
    grant.check_shape()?;
    let json = serde_json::to_string(&grant).map_err(|e| e.to_string())?;
    let back: Grant = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    if back != grant {
        return Err("grant does not round-trip through JSON".into());
    }
    let mut approved = grant.clone();
    let approver = if approved.holder == crate::Holder::Principal("approver-1".into()) {
        "approver-2"
    } else {
        "approver-1"
    };
    approve(&mut approved, approver, NOW).map_err(|e| e.to_string())?;
    let engine = Engine::new([approved.clone()]).map_err(|e| e.to_string())?;
    check_policies(&engine)?;
    if engine.policy_count() != 2 {
        return Err("one grant must make one permit".into());
    }
    // The holder, inside the window, asking exactly for the grant, is
    // allowed by that grant.
    let (id, groups) = match &approved.holder {
        crate::Holder::Principal(p) => (p.clone(), Vec::new()),
        crate::Holder::Group(g) => ("member-1".to_owned(), vec![g.clone()]),
    };
    let principal = Principal {
        id: id.clone(),
        kind: PrincipalKind::Employee,
        status: PrincipalStatus::Active,
        groups,
        department: None,
        roles: Vec::new(),
        region: None,
        supplier: None,
    };
    let req = crate::AuthzRequest {
        principal: id,
        dataset: approved.dataset.clone(),
        categories: approved.categories.clone(),
        purpose: approved.purpose.clone(),
        subjects: vec!["s-1".into()],
    };
    let at = approved.valid_from.max(NOW);
    let d = engine.authorize(&req, Some(&principal), at);
    if !d.allow || d.grant.as_deref() != Some("g-fuzz") {
        return Err(format!("holder not allowed by its own grant: {d:?}"));
    }
    let d = engine.authorize(&req, Some(&principal), approved.valid_until);
    if d.allow {
        return Err("allowed at valid_until".into());
    }
    Ok(Outcome::Accepted)
}

fn fixture() -> Result<&'static Engine, String> {
    static E: OnceLock<Result<Engine, String>> = OnceLock::new();
    E.get_or_init(|| {
        let body = br#"{"holder":{"principal":"emp-1"},"dataset":"customers","categories":["name","phone"],
            "purpose":"customer_support","max_subjects_per_day":200,"valid_until":"2026-12-09T00:00:00Z","ticket":"SEC-1"}"#;
        let mut g = parse_grant_request(body, "requester-1", NOW, "g-1".into()).map_err(|e| e.to_string())?;
        approve(&mut g, "approver-1", NOW).map_err(|e| e.to_string())?;
        Engine::new([g]).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// An authorization request: no panic; a refusal names paths; an accepted
/// request is decided against a fixture engine (one grant to `emp-1`:
/// customers, name+phone, customer_support, 200 a day) and an allow is
/// only ever within that grant.
pub fn authz_request(data: &[u8]) -> Result<Outcome, String> {
    let req = match parse_authz_request(data) {
        Ok(r) => r,
        Err(e) => return refused(&e),
    };
    req.check_shape()?;
    let engine = fixture()?;
    let principal = Principal {
        id: req.principal.clone(),
        kind: PrincipalKind::Employee,
        status: PrincipalStatus::Active,
        groups: vec!["cs-team".into()],
        department: None,
        roles: Vec::new(),
        region: None,
        supplier: None,
    };
    let d = engine.authorize(&req, Some(&principal), NOW);
    if d.allow {
        let within = req.principal == "emp-1"
            && req.dataset == "customers"
            && req.purpose == "customer_support"
            && req.categories.iter().all(|c| c == "name" || c == "phone")
            && d.grant.as_deref() == Some("g-1")
            && d.subjects_today.is_some_and(|n| n <= 200);
        if !within {
            return Err(format!("allowed beyond the grant: {d:?}"));
        }
    } else if d.reasons.is_empty() {
        return Err("deny without a reason".into());
    }
    Ok(Outcome::Accepted)
}

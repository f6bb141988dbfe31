//! The authorizer: Cedar decides; Rust explains.
//!
//! Speed: Cedar evaluates every policy of the set it is given, so the
//! engine never hands it all grants. Grants are indexed by holder, and each
//! principal gets a small cached [`PolicySet`] — its own grants, its
//! groups' grants and the global forbid — with its [`Entities`], built on
//! first use and rebuilt when a `put` bumps the generation or the
//! principal's status or groups differ from the cached ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use cedar_policy::{Authorizer, Entities, Policy, PolicySet, Request};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::cedar::{self, Types};
use crate::error::EngineError;
use crate::grant::{Grant, GrantState, Holder, Principal, PrincipalStatus};
use crate::limit::{DailyLimits, Outcome};
use crate::request::AuthzRequest;

/// The stable reason codes of [`Reason::code`].
pub mod codes {
    /// The principal holds no grant at all (directly or via its groups).
    pub const NO_GRANT: &str = "no_grant";
    /// The closest grant is for another dataset.
    pub const DATASET_NOT_GRANTED: &str = "dataset_not_granted";
    /// A requested category is not in the closest grant.
    pub const CATEGORY_NOT_GRANTED: &str = "category_not_granted";
    /// The declared purpose differs from the closest grant's.
    pub const PURPOSE_MISMATCH: &str = "purpose_mismatch";
    /// The closest grant is not approved yet.
    pub const GRANT_PENDING_APPROVAL: &str = "grant_pending_approval";
    /// The closest grant's window has not begun.
    pub const GRANT_NOT_YET_VALID: &str = "grant_not_yet_valid";
    /// The closest grant's window has ended.
    pub const GRANT_EXPIRED: &str = "grant_expired";
    /// The closest grant was revoked.
    pub const GRANT_REVOKED: &str = "grant_revoked";
    /// Allowing would exceed the grant's distinct subjects per UTC day.
    pub const DAILY_SUBJECT_LIMIT: &str = "daily_subject_limit";
    /// No such principal in the directory.
    pub const PRINCIPAL_UNKNOWN: &str = "principal_unknown";
    /// The principal is suspended.
    pub const PRINCIPAL_SUSPENDED: &str = "principal_suspended";
    /// The principal is offboarded.
    pub const PRINCIPAL_OFFBOARDED: &str = "principal_offboarded";
    /// The request does not have the shape `parse_authz_request` enforces.
    pub const REQUEST_INVALID: &str = "request_invalid";
    /// Cedar and the Rust explanation disagree (Cedar's decision stands),
    /// or Cedar could not evaluate the request.
    pub const ENGINE_DISAGREEMENT: &str = "engine_disagreement";
}

/// One reason for a decision.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    /// A stable machine code ([`codes`]).
    pub code: &'static str,
    /// Words for people.
    pub message: String,
}

/// The answer to an [`AuthzRequest`].
///
/// JSON: `{"decision":"allow"|"deny","grant":…,"reasons":[…],
/// "subjects_today":…,"limit":…}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the access may go ahead.
    pub allow: bool,
    /// Allow: the grant (policy id) that determined it. Deny: the grant the
    /// reasons are about (the closest one, or the one whose daily limit
    /// was reached), if any.
    pub grant: Option<String>,
    /// For a deny, why (first = primary); for an allow, empty unless
    /// Cedar and the explanation disagreed.
    pub reasons: Vec<Reason>,
    /// Distinct subjects of (principal, grant) today, including this
    /// request's when allowed (or the count it would have reached).
    pub subjects_today: Option<u64>,
    /// The grant's `max_subjects_per_day`.
    pub limit: Option<u32>,
}

impl Decision {
    fn deny(grant: Option<String>, reasons: Vec<Reason>) -> Decision {
        Decision {
            allow: false,
            grant,
            reasons,
            subjects_today: None,
            limit: None,
        }
    }

    /// The first reason's code, if any.
    pub fn code(&self) -> Option<&'static str> {
        self.reasons.first().map(|r| r.code)
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("decision", if self.allow { "allow" } else { "deny" })?;
        m.serialize_entry("grant", &self.grant)?;
        m.serialize_entry("reasons", &self.reasons)?;
        m.serialize_entry("subjects_today", &self.subjects_today)?;
        m.serialize_entry("limit", &self.limit)?;
        m.end()
    }
}

fn reason(code: &'static str, message: impl Into<String>) -> Reason {
    Reason {
        code,
        message: message.into(),
    }
}

struct Entry {
    grant: Grant,
    /// `Some` when enforceable (approved, not revoked).
    policy: Option<Policy>,
}

#[derive(Default)]
struct Index {
    /// Bumped by every `put`; cached per-principal sets of an older
    /// generation are rebuilt.
    generation: u64,
    grants: BTreeMap<String, Entry>,
    by_principal: HashMap<String, BTreeSet<String>>,
    by_group: HashMap<String, BTreeSet<String>>,
}

impl Index {
    fn holder_ids(&mut self, h: &Holder) -> &mut BTreeSet<String> {
        match h {
            Holder::Principal(p) => self.by_principal.entry(p.clone()).or_default(),
            Holder::Group(g) => self.by_group.entry(g.clone()).or_default(),
        }
    }

    fn unindex(&mut self, h: &Holder, id: &str) {
        let (map, key) = match h {
            Holder::Principal(p) => (&mut self.by_principal, p),
            Holder::Group(g) => (&mut self.by_group, g),
        };
        if let Some(ids) = map.get_mut(key) {
            ids.remove(id);
            if ids.is_empty() {
                map.remove(key);
            }
        }
    }

    /// Ids of the grants that apply to `p`: its own and its groups'.
    fn candidates(&self, principal: &str, groups: &[String]) -> BTreeSet<&str> {
        let mut out: BTreeSet<&str> = BTreeSet::new();
        if let Some(ids) = self.by_principal.get(principal) {
            out.extend(ids.iter().map(String::as_str));
        }
        for g in groups {
            if let Some(ids) = self.by_group.get(g) {
                out.extend(ids.iter().map(String::as_str));
            }
        }
        out
    }
}

/// One principal's compiled view.
struct Compiled {
    generation: u64,
    status: PrincipalStatus,
    kind: crate::grant::PrincipalKind,
    groups: Vec<String>,
    policies: PolicySet,
    entities: Entities,
}

/// Cached per-principal views beyond this many are all dropped (a bound
/// on memory; they rebuild on use).
const MAX_CACHED: usize = 262_144;

/// Grants in memory, compiled to Cedar, and the authorizer over them.
///
/// `Send + Sync` with interior mutability: share one `Arc<Engine>`.
/// Grants are durable elsewhere ([`GrantStore`](crate::GrantStore)); the
/// daily subject counts are in memory only (lost on restart).
pub struct Engine {
    index: RwLock<Index>,
    cache: RwLock<HashMap<String, Arc<Compiled>>>,
    limits: Mutex<DailyLimits>,
    authorizer: Authorizer,
    types: Types,
    forbid: Policy,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("policies", &self.policy_count())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `grants` (any state). Refuses the first grant that
    /// fails [`Grant::check_shape`] or does not compile.
    pub fn new(grants: impl IntoIterator<Item = Grant>) -> Result<Engine, EngineError> {
        let engine = Engine {
            index: RwLock::new(Index::default()),
            cache: RwLock::new(HashMap::new()),
            limits: Mutex::new(DailyLimits::new()),
            authorizer: Authorizer::new(),
            types: Types::new()?,
            forbid: cedar::forbid_inactive()?,
        };
        for g in grants {
            engine.put(g)?;
        }
        Ok(engine)
    }

    /// Adds a grant, or replaces the one with its id (after approve or
    /// revoke). Takes effect for every authorization that starts after it
    /// returns.
    pub fn put(&self, grant: Grant) -> Result<(), EngineError> {
        let policy = if grant.is_enforceable() {
            Some(cedar::compile(&grant)?)
        } else {
            grant
                .check_shape()
                .map_err(|problem| EngineError::InvalidGrant {
                    id: grant.id.clone(),
                    problem,
                })?;
            None
        };
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = index.grants.remove(&grant.id) {
            index.unindex(&old.grant.holder, &grant.id);
        }
        index.holder_ids(&grant.holder).insert(grant.id.clone());
        index
            .grants
            .insert(grant.id.clone(), Entry { grant, policy });
        index.generation = index.generation.wrapping_add(1);
        Ok(())
    }

    /// Every grant, in id order.
    pub fn grants(&self) -> Vec<Grant> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index.grants.values().map(|e| e.grant.clone()).collect()
    }

    /// The grants held directly by principal `holder_principal` (not via
    /// groups), in id order.
    pub fn grants_of(&self, holder_principal: &str) -> Vec<Grant> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index
            .by_principal
            .get(holder_principal)
            .into_iter()
            .flatten()
            .filter_map(|id| index.grants.get(id))
            .map(|e| e.grant.clone())
            .collect()
    }

    /// The grant with this id, if any.
    pub fn grant(&self, id: &str) -> Option<Grant> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index.grants.get(id).map(|e| e.grant.clone())
    }

    /// The number of policies in the generated set: one per enforceable
    /// grant, plus the global forbid.
    pub fn policy_count(&self) -> usize {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index.grants.values().filter(|e| e.policy.is_some()).count() + 1
    }

    /// The whole generated Cedar policy set as text (the forbid, then one
    /// permit per enforceable grant in id order), for auditors.
    pub fn cedar_text(&self) -> String {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::from(cedar::FORBID_INACTIVE);
        for e in index.grants.values().filter(|e| e.policy.is_some()) {
            out.push('\n');
            out.push_str(&cedar::policy_text(&e.grant));
        }
        out
    }

    /// Decides `req` for `principal` (looked up by the caller in the
    /// directory; `None` if unknown) at `now` (unix seconds).
    ///
    /// Cedar decides against the principal's own policy set; on allow the
    /// request's subjects are counted against the determining grant's
    /// daily limit (and recorded only if within it). A deny carries the
    /// reasons, computed from the closest grant.
    pub fn authorize(
        &self,
        req: &AuthzRequest,
        principal: Option<&Principal>,
        now: i64,
    ) -> Decision {
        if let Err(problem) = req.check_shape() {
            return Decision::deny(None, vec![reason(codes::REQUEST_INVALID, problem)]);
        }
        let Some(principal) = principal.filter(|p| p.id == req.principal) else {
            return Decision::deny(
                None,
                vec![reason(
                    codes::PRINCIPAL_UNKNOWN,
                    format!("no principal {:?} in the directory", req.principal),
                )],
            );
        };
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        let compiled = match self.compiled(&index, principal) {
            Ok(c) => c,
            Err(e) => return Decision::deny(None, vec![reason(codes::ENGINE_DISAGREEMENT, e)]),
        };
        let cedar = self.cedar(&index, req, principal, &compiled, now);
        match cedar {
            Ok(determining) if !determining.is_empty() => {
                // The cheap cross-check of an allow: the principal is
                // active and a determining grant covers the request by
                // the Rust rules too.
                let agrees = principal.status == PrincipalStatus::Active
                    && determining.iter().any(|(id, _)| {
                        index
                            .grants
                            .get(id)
                            .is_some_and(|e| covers(&e.grant, req, now))
                    });
                drop(index);
                let mut d = self.count(req, now, &determining);
                if d.allow && !agrees {
                    d.reasons.push(reason(
                        codes::ENGINE_DISAGREEMENT,
                        "Cedar allowed but no grant applies by the Rust explanation; Cedar's decision stands",
                    ));
                }
                d
            }
            Ok(_) | Err(_) => {
                let explained = explain(&index, req, principal, now);
                drop(index);
                let mut reasons = explained.reasons;
                if let Some(first) = explained.applicable.first() {
                    reasons.push(reason(
                        codes::ENGINE_DISAGREEMENT,
                        format!("grant {first} applies by the Rust explanation but Cedar denied; Cedar's decision stands"),
                    ));
                }
                if let Err(e) = cedar {
                    reasons.push(reason(codes::ENGINE_DISAGREEMENT, e));
                }
                Decision::deny(explained.closest, reasons)
            }
        }
    }

    /// Cedar's answer: the ids of the determining permits (empty: deny).
    fn cedar(
        &self,
        index: &Index,
        req: &AuthzRequest,
        principal: &Principal,
        c: &Compiled,
        now: i64,
    ) -> Result<Vec<(String, u32)>, String> {
        let context = cedar::context(&req.purpose, &req.categories, now)?;
        let request = Request::new(
            self.types.principal(&principal.id),
            self.types.action.clone(),
            self.types.dataset(&req.dataset),
            context,
            None,
        )
        .map_err(|e| e.to_string())?;
        let response = self
            .authorizer
            .is_authorized(&request, &c.policies, &c.entities);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        if response.decision() != cedar_policy::Decision::Allow {
            return if errors.is_empty() {
                Ok(Vec::new())
            } else {
                Err(format!("cedar evaluation errors: {}", errors.join("; ")))
            };
        }
        let mut out: Vec<(String, u32)> = response
            .diagnostics()
            .reason()
            .filter_map(|id| {
                let id: &str = id.as_ref();
                index
                    .grants
                    .get(id)
                    .map(|e| (id.to_owned(), e.grant.max_subjects_per_day))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Daily-limit accounting after Cedar allowed: the first determining
    /// grant (in id order) with room for these subjects is charged.
    fn count(&self, req: &AuthzRequest, now: i64, determining: &[(String, u32)]) -> Decision {
        let mut limits = self.limits.lock().unwrap_or_else(PoisonError::into_inner);
        let mut over = None;
        for (id, limit) in determining {
            match limits.record(&req.principal, id, now, &req.subjects, *limit) {
                Outcome::Recorded(n) => {
                    return Decision {
                        allow: true,
                        grant: Some(id.clone()),
                        reasons: Vec::new(),
                        subjects_today: Some(n),
                        limit: Some(*limit),
                    };
                }
                Outcome::Over(n) => {
                    over.get_or_insert((id.clone(), *limit, n));
                }
            }
        }
        let (id, limit, n) = over.unwrap_or_default();
        let today = limits.count(&req.principal, &id, now);
        Decision {
            allow: false,
            reasons: vec![reason(
                codes::DAILY_SUBJECT_LIMIT,
                format!(
                    "grant {id} allows {limit} distinct subjects per UTC day; {today} already today, this request would make {n}"
                ),
            )],
            grant: Some(id),
            subjects_today: Some(today),
            limit: Some(limit),
        }
    }

    /// The principal's cached policy set and entities, rebuilt if stale.
    fn compiled(&self, index: &Index, p: &Principal) -> Result<Arc<Compiled>, String> {
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(c) = cache.get(&p.id)
                && c.generation == index.generation
                && c.status == p.status
                && c.kind == p.kind
                && c.groups == p.groups
            {
                return Ok(c.clone());
            }
        }
        let mut policies = PolicySet::new();
        policies
            .add(self.forbid.clone())
            .map_err(|e| e.to_string())?;
        for id in index.candidates(&p.id, &p.groups) {
            if let Some(policy) = index.grants.get(id).and_then(|e| e.policy.as_ref()) {
                policies.add(policy.clone()).map_err(|e| e.to_string())?;
            }
        }
        let entities =
            Entities::from_entities(self.types.entities(p)?, None).map_err(|e| e.to_string())?;
        let compiled = Arc::new(Compiled {
            generation: index.generation,
            status: p.status,
            kind: p.kind,
            groups: p.groups.clone(),
            policies,
            entities,
        });
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(p.id.clone(), compiled.clone());
        Ok(compiled)
    }
}

/// The Rust explanation of a request.
struct Explained {
    /// Grants that apply by these rules (sorted ids).
    applicable: Vec<String>,
    /// The grant the reasons are about.
    closest: Option<String>,
    /// Reasons for a deny (empty when something applies and the
    /// principal is active).
    reasons: Vec<Reason>,
}

fn explain(index: &Index, req: &AuthzRequest, p: &Principal, now: i64) -> Explained {
    let mut ranked: Vec<(usize, bool, &str, Vec<Reason>)> = index
        .candidates(&p.id, &p.groups)
        .into_iter()
        .filter_map(|id| index.grants.get(id))
        .map(|e| {
            let f = failures(&e.grant, req, now);
            (
                f.len(),
                e.grant.dataset != req.dataset,
                e.grant.id.as_str(),
                f,
            )
        })
        .collect();
    ranked.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let applicable: Vec<String> = ranked
        .iter()
        .filter(|r| r.0 == 0)
        .map(|r| r.2.to_owned())
        .collect();
    let status = match p.status {
        PrincipalStatus::Active => None,
        PrincipalStatus::Suspended => Some(reason(
            codes::PRINCIPAL_SUSPENDED,
            format!("principal {} is suspended", p.id),
        )),
        PrincipalStatus::Offboarded => Some(reason(
            codes::PRINCIPAL_OFFBOARDED,
            format!("principal {} is offboarded", p.id),
        )),
    };
    let closest = ranked.first().map(|r| r.2.to_owned());
    let reasons = match (status, ranked.into_iter().next()) {
        (Some(s), _) => vec![s],
        (None, None) => vec![reason(
            codes::NO_GRANT,
            format!(
                "principal {} holds no grant, directly or via its groups",
                p.id
            ),
        )],
        (None, Some(first)) => first.3,
    };
    Explained {
        applicable: if p.status == PrincipalStatus::Active {
            applicable
        } else {
            Vec::new()
        },
        closest,
        reasons,
    }
}

/// Whether grant `g` covers `req` at `now` (what [`failures`] finds
/// nothing wrong with), without allocating.
fn covers(g: &Grant, req: &AuthzRequest, now: i64) -> bool {
    g.state_at(now) == GrantState::Active
        && g.dataset == req.dataset
        && g.purpose == req.purpose
        && req.categories.is_subset(&g.categories)
}

/// Why grant `g` does not cover `req` at `now` (empty: it does).
fn failures(g: &Grant, req: &AuthzRequest, now: i64) -> Vec<Reason> {
    let mut out = Vec::new();
    match g.state_at(now) {
        GrantState::Revoked => {
            let by = g
                .revoked
                .as_ref()
                .map(|r| r.by.as_str())
                .unwrap_or_default();
            out.push(reason(
                codes::GRANT_REVOKED,
                format!("grant {} was revoked by {by}", g.id),
            ));
        }
        GrantState::Expired => out.push(reason(
            codes::GRANT_EXPIRED,
            format!(
                "grant {} expired at {}",
                g.id,
                crate::time::format_rfc3339(g.valid_until)
            ),
        )),
        GrantState::Pending => out.push(reason(
            codes::GRANT_PENDING_APPROVAL,
            format!("grant {} is not approved yet", g.id),
        )),
        GrantState::NotYetValid => out.push(reason(
            codes::GRANT_NOT_YET_VALID,
            format!(
                "grant {} is valid from {}",
                g.id,
                crate::time::format_rfc3339(g.valid_from)
            ),
        )),
        GrantState::Active => {}
    }
    if g.dataset != req.dataset {
        out.push(reason(
            codes::DATASET_NOT_GRANTED,
            format!(
                "grant {} is for dataset {}, not {}",
                g.id, g.dataset, req.dataset
            ),
        ));
    }
    if g.purpose != req.purpose {
        out.push(reason(
            codes::PURPOSE_MISMATCH,
            format!(
                "grant {} is for purpose {}, not {}",
                g.id, g.purpose, req.purpose
            ),
        ));
    }
    let missing: Vec<&str> = req
        .categories
        .difference(&g.categories)
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        out.push(reason(
            codes::CATEGORY_NOT_GRANTED,
            format!(
                "grant {} does not cover categories {}",
                g.id,
                missing.join(", ")
            ),
        ));
    }
    out
}

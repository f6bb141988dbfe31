//! Principals, grants and their lifecycle: request (parsed from outside
//! JSON), approval by someone else, validity window, revocation.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{ApprovalError, GrantError, Problem, RevokeError};
use crate::json::{Fields, Json, Rule, parse_object};

/// What kind of principal this is (from the SCIM directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A member of staff.
    Employee,
    /// A machine identity.
    Service,
    /// Staff of a supplier (vendor, sub-processor).
    SupplierStaff,
    /// A customer acting on their own data.
    Customer,
}

/// Whether a principal may act at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalStatus {
    /// May act within its grants.
    Active,
    /// Temporarily barred (every request denied, grants kept).
    Suspended,
    /// Left; every request denied.
    Offboarded,
}

impl PrincipalStatus {
    /// The value of the principal's `status` attribute in Cedar.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalStatus::Active => "active",
            PrincipalStatus::Suspended => "suspended",
            PrincipalStatus::Offboarded => "offboarded",
        }
    }
}

/// A principal as the authorizer sees it; the server builds it from the
/// SCIM directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// The principal's identifier (what grants and requests name).
    pub id: String,
    /// Employee, service, supplier staff or customer.
    pub kind: PrincipalKind,
    /// Active, suspended or offboarded.
    pub status: PrincipalStatus,
    /// Groups it is a member of (grants to a group apply to it).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Department, if known.
    #[serde(default)]
    pub department: Option<String>,
    /// Roles, if any.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Region it works from, if known.
    #[serde(default)]
    pub region: Option<String>,
    /// For supplier staff: the supplier.
    #[serde(default)]
    pub supplier: Option<String>,
}

/// Who holds a grant. JSON: `{"principal":"emp-1"}` or `{"group":"cs-team"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    /// One principal, by id.
    Principal(String),
    /// Every member of a group, by group id.
    Group(String),
}

/// Who revoked a grant, when, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    /// Unix seconds.
    pub at: i64,
    /// The revoking principal.
    pub by: String,
    /// Why, in words.
    pub reason: String,
}

/// A least-privilege, time-bound grant: `holder` may read `categories` of
/// `dataset` for `purpose`, touching at most `max_subjects_per_day`
/// distinct data subjects per UTC day, from `valid_from` (inclusive) to
/// `valid_until` (exclusive), once approved by someone other than the
/// requester and the holder, until revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Unique id (assigned by the caller of [`parse_grant_request`]).
    pub id: String,
    /// Who holds it.
    pub holder: Holder,
    /// The dataset it opens.
    pub dataset: String,
    /// The data categories of the dataset it opens (non-empty).
    pub categories: BTreeSet<String>,
    /// The one purpose it is for.
    pub purpose: String,
    /// Distinct data subjects per UTC day (1..=10,000,000).
    pub max_subjects_per_day: u32,
    /// Unix seconds, inclusive.
    pub valid_from: i64,
    /// Unix seconds, exclusive.
    pub valid_until: i64,
    /// Who asked for it.
    pub requested_by: String,
    /// Who approved it (`None`: pending).
    pub approved_by: Option<String>,
    /// When it was approved.
    pub approved_at: Option<i64>,
    /// The change ticket it was asked under.
    pub ticket: String,
    /// When it was requested.
    pub created_at: i64,
    /// Set once revoked.
    pub revoked: Option<Revoked>,
}

/// Where a grant is in its lifecycle at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// Not approved yet (and not revoked or expired).
    Pending,
    /// Approved and within its validity window.
    Active,
    /// Approved, window not yet begun.
    NotYetValid,
    /// Window ended (`now >= valid_until`).
    Expired,
    /// Revoked.
    Revoked,
}

impl Grant {
    /// The grant's state at `now`: revoked wins, then expired, then
    /// pending, then the validity window (`valid_from <= now < valid_until`).
    pub fn state_at(&self, now: i64) -> GrantState {
        if self.revoked.is_some() {
            GrantState::Revoked
        } else if now >= self.valid_until {
            GrantState::Expired
        } else if self.approved_by.is_none() {
            GrantState::Pending
        } else if now < self.valid_from {
            GrantState::NotYetValid
        } else {
            GrantState::Active
        }
    }

    /// Whether the grant compiles to a Cedar policy: approved and not
    /// revoked (the window is a condition inside the policy).
    pub fn is_enforceable(&self) -> bool {
        self.approved_by.is_some() && self.revoked.is_none()
    }

    /// Checks every field against the rules [`parse_grant_request`]
    /// enforces on its inputs (shapes and ranges, not the clock-relative
    /// rules), so that a grant from anywhere is safe to compile.
    pub fn check_shape(&self) -> Result<(), String> {
        let mut p = Vec::new();
        Rule::Name.check(&self.id, "id", &mut p);
        let (holder_path, holder) = match &self.holder {
            Holder::Principal(h) => ("holder.principal", h),
            Holder::Group(h) => ("holder.group", h),
        };
        Rule::Id.check(holder, holder_path, &mut p);
        Rule::Name.check(&self.dataset, "dataset", &mut p);
        Rule::Name.check(&self.purpose, "purpose", &mut p);
        if self.categories.is_empty() || self.categories.len() > MAX_CATEGORIES {
            p.push(Problem {
                path: "categories".into(),
                reason: format!("1 to {MAX_CATEGORIES} categories"),
            });
        }
        for c in &self.categories {
            Rule::Category.check(c, "categories", &mut p);
        }
        if !(1..=MAX_SUBJECTS_PER_DAY).contains(&self.max_subjects_per_day) {
            p.push(Problem {
                path: "max_subjects_per_day".into(),
                reason: "out of range".into(),
            });
        }
        if self.valid_until <= self.valid_from {
            p.push(Problem {
                path: "valid_until".into(),
                reason: "must be after valid_from".into(),
            });
        }
        Rule::Id.check(&self.requested_by, "requested_by", &mut p);
        match p.first() {
            None => Ok(()),
            Some(first) => Err(format!("{}: {}", first.path, first.reason)),
        }
    }
}

/// Largest `max_subjects_per_day` a grant may carry.
pub const MAX_SUBJECTS_PER_DAY: u32 = 10_000_000;
/// Most categories one grant or request may name.
pub const MAX_CATEGORIES: usize = 64;
/// Largest grant request body accepted, in bytes.
pub const MAX_GRANT_REQUEST_BYTES: usize = 16 * 1024;
/// The default longest validity of a grant: 90 days.
pub const DEFAULT_MAX_VALIDITY_SECS: i64 = 90 * 86_400;

/// Rules for grant requests that a deployment may tune.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantRules {
    /// Longest `valid_until - valid_from` accepted, in seconds
    /// (default [`DEFAULT_MAX_VALIDITY_SECS`]).
    pub max_validity_secs: i64,
}

impl Default for GrantRules {
    fn default() -> Self {
        GrantRules {
            max_validity_secs: DEFAULT_MAX_VALIDITY_SECS,
        }
    }
}

/// Parses a grant request (the HTTP body, the CLI file) with the default
/// [`GrantRules`]. See [`parse_grant_request_with`].
pub fn parse_grant_request(
    json: &[u8],
    requested_by: &str,
    now: i64,
    id: String,
) -> Result<Grant, GrantError> {
    parse_grant_request_with(json, requested_by, now, id, &GrantRules::default())
}

/// Parses and validates a grant request into a pending [`Grant`] with the
/// given `id`, requested by `requested_by` at `now`.
///
/// Shape: `{"holder":{"principal":"emp-1"},"dataset":"customers",
/// "categories":["name","phone"],"purpose":"customer_support",
/// "max_subjects_per_day":200,"valid_from":"2026-12-02T00:00:00Z",
/// "valid_until":"2026-12-09T00:00:00Z","ticket":"SEC-123"}`;
/// `valid_from` is optional (default `now`); times are RFC 3339 or unix
/// seconds. Every problem is reported with its JSON path; unknown and
/// duplicate fields are refused; the body is at most
/// [`MAX_GRANT_REQUEST_BYTES`].
pub fn parse_grant_request_with(
    json: &[u8],
    requested_by: &str,
    now: i64,
    id: String,
    rules: &GrantRules,
) -> Result<Grant, GrantError> {
    let fields = parse_object(json, MAX_GRANT_REQUEST_BYTES)?;
    let mut problems = Vec::new();
    Rule::Name.check(&id, "id", &mut problems);
    Rule::Id.check(requested_by, "requested_by", &mut problems);
    let mut f = Fields::new("$", fields, &mut problems);
    let holder = parse_holder(&mut f);
    let dataset = f.string("dataset", Rule::Name);
    let categories = f.string_set("categories", Rule::Category, MAX_CATEGORIES);
    let purpose = f.string("purpose", Rule::Name);
    let max = f.integer("max_subjects_per_day", 1..=u64::from(MAX_SUBJECTS_PER_DAY));
    let from_given = f.timestamp("valid_from", false);
    let until = f.timestamp("valid_until", true);
    let ticket = f.string("ticket", Rule::Text);
    let valid_from = from_given.unwrap_or(now);
    if let Some(until) = until {
        if until <= valid_from {
            let p = f.path_of("valid_until");
            f.problem(p, "must be after valid_from");
        } else if until <= now {
            let p = f.path_of("valid_until");
            f.problem(p, "is in the past");
        } else if until.saturating_sub(valid_from) > rules.max_validity_secs {
            let p = f.path_of("valid_until");
            f.problem(
                p,
                format!(
                    "validity longer than the maximum of {} seconds ({} days)",
                    rules.max_validity_secs,
                    rules.max_validity_secs / 86_400
                ),
            );
        }
    }
    f.finish();
    match (holder, dataset, categories, purpose, max, until, ticket) {
        (
            Some(holder),
            Some(dataset),
            Some(categories),
            Some(purpose),
            Some(max),
            Some(until),
            Some(ticket),
        ) if problems.is_empty() => Ok(Grant {
            id,
            holder,
            dataset,
            categories,
            purpose,
            max_subjects_per_day: u32::try_from(max).unwrap_or(MAX_SUBJECTS_PER_DAY),
            valid_from,
            valid_until: until,
            requested_by: requested_by.to_owned(),
            approved_by: None,
            approved_at: None,
            ticket,
            created_at: now,
            revoked: None,
        }),
        _ => Err(GrantError { problems }),
    }
}

fn parse_holder(f: &mut Fields<'_>) -> Option<Holder> {
    let v = f.take("holder", true)?;
    let path = f.path_of("holder");
    let Json::Object(members) = v else {
        f.problem(
            path,
            format!(
                "expected {{\"principal\":\"…\"}} or {{\"group\":\"…\"}}, found {}",
                v.kind()
            ),
        );
        return None;
    };
    let mut inner = Fields::new(&path, members, f.problems);
    let principal = inner.take("principal", false);
    let group = inner.take("group", false);
    let out = match (principal, group) {
        (Some(v), None) => {
            let p = inner.path_of("principal");
            string_of(v, &p, Rule::Id, inner.problems).map(Holder::Principal)
        }
        (None, Some(v)) => {
            let p = inner.path_of("group");
            string_of(v, &p, Rule::Id, inner.problems).map(Holder::Group)
        }
        (Some(_), Some(_)) => {
            inner.problem(path.clone(), "exactly one of principal or group");
            None
        }
        (None, None) => {
            inner.problem(path.clone(), "expected principal or group");
            None
        }
    };
    inner.finish();
    out
}

fn string_of(v: Json, path: &str, rule: Rule, problems: &mut Vec<Problem>) -> Option<String> {
    let s = crate::json::expect_string(v, path, problems)?;
    rule.check(&s, path, problems).then_some(s)
}

/// Approves a pending grant as `approver` at `now`.
///
/// Refused: the requester approving their own request, the holder (when a
/// principal) approving a grant to themselves, a revoked, expired or
/// already approved grant. On refusal the grant is unchanged.
pub fn approve(grant: &mut Grant, approver: &str, now: i64) -> Result<(), ApprovalError> {
    if !Rule::Id.ok(approver) {
        return Err(ApprovalError::InvalidApprover);
    }
    match grant.state_at(now) {
        GrantState::Revoked => return Err(ApprovalError::Revoked),
        GrantState::Expired => return Err(ApprovalError::Expired),
        _ if grant.approved_by.is_some() => return Err(ApprovalError::AlreadyApproved),
        _ => {}
    }
    if approver == grant.requested_by {
        return Err(ApprovalError::SelfApproval);
    }
    if matches!(&grant.holder, Holder::Principal(p) if p == approver) {
        return Err(ApprovalError::HolderApproval);
    }
    grant.approved_by = Some(approver.to_owned());
    grant.approved_at = Some(now);
    Ok(())
}

/// Revokes a grant (pending or approved, even expired) as `by` at `now`.
/// Refused if already revoked: the first revocation stands.
pub fn revoke(grant: &mut Grant, by: &str, reason: &str, now: i64) -> Result<(), RevokeError> {
    if grant.revoked.is_some() {
        return Err(RevokeError::AlreadyRevoked);
    }
    if !Rule::Id.ok(by) {
        return Err(RevokeError::InvalidRevoker);
    }
    if !Rule::Text.ok(reason) {
        return Err(RevokeError::InvalidReason);
    }
    grant.revoked = Some(Revoked {
        at: now,
        by: by.to_owned(),
        reason: reason.to_owned(),
    });
    Ok(())
}

//! The Cedar mapping: the schema, one `permit` per enforceable grant, one
//! global `forbid` for principals that are not active, and the entity and
//! request values the authorizer evaluates them against.
//!
//! Policy text is generated from grant fields that parse-time validation
//! already restricted to small character sets (no quote, backslash, space
//! or control character can reach here: [`Grant::check_shape`] runs again
//! before compiling), and every string is still written as an escaped
//! Cedar string literal ([`quote`]), so neither layer alone is relied on.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use cedar_policy::{
    Context, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, RestrictedExpression,
};

use crate::error::EngineError;
use crate::grant::{Grant, Holder, Principal};

/// The Cedar schema (human-readable syntax) every generated policy
/// validates against.
pub const CEDAR_SCHEMA: &str = r#"namespace Custos {
  // Groups from the SCIM directory; a principal is `in` its groups.
  entity Group;
  // Employees, services, supplier staff, customers.
  entity Principal in [Group] {
    status: String,   // "active" | "suspended" | "offboarded"
    kind: String,     // "employee" | "service" | "supplier_staff" | "customer"
  };
  // A dataset holding personal data.
  entity Dataset;
  action "access" appliesTo {
    principal: [Principal],
    resource: [Dataset],
    context: {
      purpose: String,
      categories: Set<String>,
      now: Long,      // unix seconds
    },
  };
}
"#;

/// The policy id of the global `forbid` (a space keeps it apart from every
/// grant id, which cannot contain one).
pub const FORBID_INACTIVE_ID: &str = "forbid inactive principal";

/// The text of the global `forbid`.
pub const FORBID_INACTIVE: &str = "@id(\"forbid-inactive-principal\")\n\
forbid (principal, action, resource)\n\
unless { principal.status == \"active\" };\n";

/// `s` as a Cedar string literal: `"` and `\` escaped, anything outside
/// printable ASCII as `\u{…}` (Cedar's string escapes follow Rust's).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// The Cedar text of the `permit` a grant compiles to.
pub fn policy_text(g: &Grant) -> String {
    let principal = match &g.holder {
        Holder::Principal(p) => format!("principal == Custos::Principal::{}", quote(p)),
        Holder::Group(grp) => format!("principal in Custos::Group::{}", quote(grp)),
    };
    let categories: Vec<String> = g.categories.iter().map(|c| quote(c)).collect();
    format!(
        "@id({id})\n\
         permit (\n  {principal},\n  action == Custos::Action::\"access\",\n  resource == Custos::Dataset::{dataset}\n)\n\
         when {{\n  context.purpose == {purpose} &&\n  [{cats}].containsAll(context.categories) &&\n  \
         context.now >= {from} && context.now < {until}\n}};\n",
        id = quote(&g.id),
        dataset = quote(&g.dataset),
        purpose = quote(&g.purpose),
        cats = categories.join(", "),
        from = g.valid_from,
        until = g.valid_until,
    )
}

/// Compiles an enforceable grant to its Cedar policy, with policy id = the
/// grant id; checks that Cedar read back the `@id` it was given.
pub(crate) fn compile(g: &Grant) -> Result<Policy, EngineError> {
    g.check_shape()
        .map_err(|problem| EngineError::InvalidGrant {
            id: g.id.clone(),
            problem,
        })?;
    let err = |detail: String| EngineError::Policy {
        id: g.id.clone(),
        detail,
    };
    let policy = Policy::parse(Some(PolicyId::new(&g.id)), policy_text(g))
        .map_err(|e| err(e.to_string()))?;
    if policy.annotation("id") != Some(g.id.as_str()) {
        return Err(err("the @id annotation did not survive parsing".into()));
    }
    Ok(policy)
}

/// The global forbid, parsed.
pub(crate) fn forbid_inactive() -> Result<Policy, EngineError> {
    Policy::parse(Some(PolicyId::new(FORBID_INACTIVE_ID)), FORBID_INACTIVE).map_err(|e| {
        EngineError::Policy {
            id: FORBID_INACTIVE_ID.into(),
            detail: e.to_string(),
        }
    })
}

/// Entity type names, parsed once.
pub(crate) struct Types {
    principal: EntityTypeName,
    group: EntityTypeName,
    dataset: EntityTypeName,
    pub(crate) action: EntityUid,
}

impl Types {
    pub(crate) fn new() -> Result<Types, EngineError> {
        let bad = |e: String| EngineError::Policy {
            id: "schema".into(),
            detail: e,
        };
        let name = |s: &str| s.parse::<EntityTypeName>().map_err(|e| bad(e.to_string()));
        Ok(Types {
            principal: name("Custos::Principal")?,
            group: name("Custos::Group")?,
            dataset: name("Custos::Dataset")?,
            action: EntityUid::from_type_name_and_id(
                name("Custos::Action")?,
                EntityId::new("access"),
            ),
        })
    }

    pub(crate) fn principal(&self, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.principal.clone(), EntityId::new(id))
    }

    pub(crate) fn group(&self, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.group.clone(), EntityId::new(id))
    }

    pub(crate) fn dataset(&self, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.dataset.clone(), EntityId::new(id))
    }

    /// The principal entity (attributes `status`, `kind`; parents = its
    /// groups) and one entity per group. Built through the API, never
    /// from text, so ids need no escaping here.
    pub(crate) fn entities(&self, p: &Principal) -> Result<Vec<Entity>, String> {
        let groups: HashSet<EntityUid> = p.groups.iter().map(|g| self.group(g)).collect();
        let kind = serde_json::to_value(p.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let attrs = HashMap::from([
            (
                "status".to_owned(),
                RestrictedExpression::new_string(p.status.as_str().to_owned()),
            ),
            ("kind".to_owned(), RestrictedExpression::new_string(kind)),
        ]);
        let mut out = Vec::with_capacity(groups.len() + 1);
        for g in &groups {
            out.push(Entity::new_no_attrs(g.clone(), HashSet::new()));
        }
        out.push(Entity::new(self.principal(&p.id), attrs, groups).map_err(|e| e.to_string())?);
        Ok(out)
    }
}

/// The request context: `purpose`, `categories`, `now`.
pub(crate) fn context(
    purpose: &str,
    categories: &std::collections::BTreeSet<String>,
    now: i64,
) -> Result<Context, String> {
    Context::from_pairs([
        (
            "purpose".to_owned(),
            RestrictedExpression::new_string(purpose.to_owned()),
        ),
        (
            "categories".to_owned(),
            RestrictedExpression::new_set(
                categories
                    .iter()
                    .map(|c| RestrictedExpression::new_string(c.clone())),
            ),
        ),
        ("now".to_owned(), RestrictedExpression::new_long(now)),
    ])
    .map_err(|e| e.to_string())
}

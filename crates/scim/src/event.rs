//! Lifecycle events: what a successful write did, for the server to turn
//! into ledger entries and, for [`LifecycleEvent::offboards`], into
//! offboarding (revoke grants, sessions and tokens; rotate keys in custody).
//!
//! Events carry attribute *names* only, never values, except the
//! identifiers the ledger needs (id, externalId, userName/displayName,
//! member ids) and the Custos extension fields.

use serde_json::{Map, Value};

use crate::schema::{CUSTOS_SCHEMA, ResourceKind};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleAction {
    /// POST.
    Created,
    /// PUT or PATCH that changed something other than `active`→false/true.
    Updated,
    /// `active` went from true (or unset) to false.
    Deactivated,
    /// `active` went from false to true (or unset).
    Reactivated,
    /// DELETE.
    Deleted,
}

/// The Custos extension's principal kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An employee (the default when the extension is absent).
    Employee,
    /// A service account.
    Service,
    /// Staff of a supplier (vendor); `supplier_id` is set.
    SupplierStaff,
}

/// The Custos view of a User.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Kind.
    pub kind: PrincipalKind,
    /// Supplier id, for supplier staff.
    pub supplier_id: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// `active`, true when unset.
    pub active: bool,
    /// `urn:…:enterprise:2.0:User:department`.
    pub department: Option<String>,
}

impl Principal {
    /// Reads the Custos fields of a User body in canonical form.
    pub fn of(body: &Map<String, Value>) -> Principal {
        let ext = body.get(CUSTOS_SCHEMA);
        let s = |k: &str| {
            ext.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let kind = match s("principalKind").as_deref() {
            Some("service") => PrincipalKind::Service,
            Some("supplier_staff") => PrincipalKind::SupplierStaff,
            _ => PrincipalKind::Employee,
        };
        Principal {
            kind,
            supplier_id: s("supplierId"),
            region: s("region"),
            active: body.get("active").and_then(Value::as_bool).unwrap_or(true),
            department: body
                .get(crate::schema::ENTERPRISE_SCHEMA)
                .and_then(|e| e.get("department"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// One lifecycle change of a User or Group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleEvent {
    /// What happened.
    pub action: LifecycleAction,
    /// User or Group.
    pub resource_type: ResourceKind,
    /// The SCIM id (the Custos principal or group id).
    pub id: String,
    /// The IdP's externalId.
    pub external_id: Option<String>,
    /// userName (User) or displayName (Group).
    pub name: Option<String>,
    /// For Users: the principal after the change (before, for a delete).
    pub principal: Option<Principal>,
    /// Names of the attributes that changed (top level; extension
    /// attributes as `urn:…:attr`), sorted.
    pub changed: Vec<String>,
    /// For Groups: member ids added.
    pub members_added: Vec<String>,
    /// For Groups: member ids removed.
    pub members_removed: Vec<String>,
    /// The resource version after the change (the last one, for a delete).
    pub version: u64,
}

impl LifecycleEvent {
    /// Whether the server must offboard the principal: a User deactivated
    /// (`active` set to false) or deleted.
    pub fn offboards(&self) -> bool {
        self.resource_type == ResourceKind::User
            && matches!(
                self.action,
                LifecycleAction::Deactivated | LifecycleAction::Deleted
            )
    }

    pub(crate) fn new(
        action: LifecycleAction,
        kind: ResourceKind,
        id: &str,
        version: u64,
        old: Option<&Map<String, Value>>,
        new: &Map<String, Value>,
    ) -> Self {
        let s = |k: &str| new.get(k).and_then(Value::as_str).map(str::to_owned);
        let mut changed = Vec::new();
        let mut members_added = Vec::new();
        let mut members_removed = Vec::new();
        if let Some(old) = old {
            changed = diff(old, new);
            if kind == ResourceKind::Group {
                let ids = |b: &Map<String, Value>| -> Vec<String> {
                    b.get("members")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|m| m.get("value").and_then(Value::as_str))
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let (before, after) = (ids(old), ids(new));
                members_added = after
                    .iter()
                    .filter(|m| !before.contains(m))
                    .cloned()
                    .collect();
                members_removed = before
                    .iter()
                    .filter(|m| !after.contains(m))
                    .cloned()
                    .collect();
            }
        }
        LifecycleEvent {
            action,
            resource_type: kind,
            id: id.to_owned(),
            external_id: s("externalId"),
            name: s(kind.unique_attr()),
            principal: (kind == ResourceKind::User).then(|| Principal::of(new)),
            changed,
            members_added,
            members_removed,
            version,
        }
    }
}

/// Names of attributes that differ, ignoring `meta`, `id` and `schemas`.
pub(crate) fn diff(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let keys = old
        .keys()
        .chain(new.keys().filter(|k| !old.contains_key(*k)));
    for k in keys {
        if matches!(k.as_str(), "meta" | "id" | "schemas") {
            continue;
        }
        let (a, b) = (old.get(k), new.get(k));
        if a == b {
            continue;
        }
        let is_ext = k.starts_with("urn:");
        match (a.and_then(Value::as_object), b.and_then(Value::as_object)) {
            (x, y) if is_ext => {
                let empty = Map::new();
                let (x, y) = (x.unwrap_or(&empty), y.unwrap_or(&empty));
                for sub in x.keys().chain(y.keys().filter(|s| !x.contains_key(*s))) {
                    if x.get(sub) != y.get(sub) {
                        out.push(format!("{k}:{sub}"));
                    }
                }
            }
            _ => out.push(k.clone()),
        }
    }
    out.sort();
    out
}

//! Filter evaluation against resources (RFC 7644 §3.4.2.2), filter checks
//! against the schema, and the sort order of §3.4.2.3.
//!
//! Rules, as the RFC states them:
//! - a multi-valued attribute matches if any of its values matches;
//! - a complex multi-valued attribute named without sub-attribute
//!   (`emails co "x"`) compares its `value` sub-attribute;
//! - strings compare case-insensitively unless the attribute is
//!   `caseExact` (`id`, `externalId`, `members.value`, …);
//! - `dateTime` attributes compare as instants;
//! - `ne` is the negation of `eq` (so it matches a resource without the
//!   attribute), and `eq null` matches an absent attribute.

use std::cmp::Ordering;

use serde_json::Value;

use crate::error::{ScimError, ScimType};
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::schema::{AttrDef, AttrType, ResourceKind, resolve};
use crate::time;

/// What the paths of a filter are relative to.
#[derive(Clone, Copy)]
pub(crate) enum Scope {
    /// A resource of this kind.
    Resource(ResourceKind),
    /// One value of this complex attribute (inside a value filter).
    Value(&'static AttrDef),
}

/// Whether the resource (its full JSON) satisfies the filter. Unknown
/// attributes match nothing; see [`check_filter`] to refuse them first.
pub fn matches(kind: ResourceKind, filter: &Filter, resource: &Value) -> bool {
    eval(Scope::Resource(kind), filter, resource)
}

pub(crate) fn eval(scope: Scope, filter: &Filter, node: &Value) -> bool {
    match filter {
        Filter::And(l, r) => eval(scope, l, node) && eval(scope, r, node),
        Filter::Or(l, r) => eval(scope, l, node) || eval(scope, r, node),
        Filter::Not(x) => !eval(scope, x, node),
        Filter::Present(path) => match lookup(scope, path, node) {
            Some((_, values)) => values.iter().any(|v| present(v)),
            None => false,
        },
        Filter::Compare { path, op, value } => {
            let Some((def, values)) = lookup(scope, path, node) else {
                return false;
            };
            let values: Vec<&Value> = values.into_iter().filter(|v| present(v)).collect();
            match (op, value) {
                (CompareOp::Eq, CompValue::Null) => values.is_empty(),
                (CompareOp::Ne, CompValue::Null) => !values.is_empty(),
                (CompareOp::Ne, _) => !values.iter().any(|v| compare(def, v, CompareOp::Eq, value)),
                _ => values.iter().any(|v| compare(def, v, *op, value)),
            }
        }
        Filter::ValuePath { path, filter } => {
            let Some((def, parent)) = lookup_attr(scope, path, node) else {
                return false;
            };
            if def.ty != AttrType::Complex || path.sub.is_some() {
                return false;
            }
            let inner = Scope::Value(def);
            match parent {
                Some(Value::Array(items)) => items.iter().any(|item| eval(inner, filter, item)),
                Some(item @ Value::Object(_)) => eval(inner, filter, item),
                _ => false,
            }
        }
    }
}

/// A non-empty value: not null, not "", not [] or {}.
fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(present),
        Value::Object(o) => o.values().any(present),
        _ => true,
    }
}

/// The value of `key` in `obj`, case-insensitively.
pub(crate) fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The definition of `path`'s attribute (not sub-attribute) and its raw
/// JSON value in `node`, if the attribute is known.
fn lookup_attr<'a>(
    scope: Scope,
    path: &AttrPath,
    node: &'a Value,
) -> Option<(&'static AttrDef, Option<&'a Value>)> {
    match scope {
        Scope::Resource(kind) => {
            let r = resolve(kind, path.urn.as_deref(), &path.name)?;
            let container = match r.ext {
                Some(urn) => get_ci(node, urn),
                None => Some(node),
            };
            Some((r.attr, container.and_then(|c| get_ci(c, r.attr.name))))
        }
        Scope::Value(parent) => {
            if path.urn.is_some() {
                return None;
            }
            let def = parent.sub_attr(&path.name)?;
            Some((def, get_ci(node, def.name)))
        }
    }
}

/// The definition of the compared (sub-)attribute and its values, flattened
/// across multi-valued attributes.
fn lookup<'a>(
    scope: Scope,
    path: &AttrPath,
    node: &'a Value,
) -> Option<(&'static AttrDef, Vec<&'a Value>)> {
    let (def, raw) = lookup_attr(scope, path, node)?;
    let items: Vec<&Value> = match raw {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    let sub = match (&path.sub, scope) {
        (Some(_), Scope::Value(_)) => return None,
        (Some(sub), _) => Some(def.sub_attr(sub)?),
        // `emails co "x"`: a complex attribute compares its `value`.
        (None, _) if def.ty == AttrType::Complex => def.sub_attr("value"),
        (None, _) => None,
    };
    match sub {
        Some(sub) => Some((
            sub,
            items
                .into_iter()
                .filter_map(|item| get_ci(item, sub.name))
                .collect(),
        )),
        None if def.ty == AttrType::Complex => Some((def, Vec::new())),
        None => Some((def, items)),
    }
}

fn compare(def: &AttrDef, v: &Value, op: CompareOp, c: &CompValue) -> bool {
    match (v, c) {
        (Value::String(a), CompValue::Str(b)) => {
            if def.ty == AttrType::DateTime
                && op != CompareOp::Co
                && let (Some(x), Some(y)) = (time::parse(a), time::parse(b))
            {
                return ordered(op, x.cmp(&y));
            }
            let (a, b) = if def.case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                _ => ordered(op, a.cmp(&b)),
            }
        }
        (Value::Bool(a), CompValue::Bool(b)) => {
            matches!(op, CompareOp::Eq | CompareOp::Ne) && ordered(op, a.cmp(b))
        }
        (Value::Number(a), CompValue::Num(b)) => {
            let ord = match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(x, y)| x.partial_cmp(&y)),
            };
            ord.is_some_and(|o| ordered(op, o))
        }
        _ => false,
    }
}

fn ordered(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Refuses (400 `invalidFilter`) a filter that names an attribute the
/// resource type does not have, or orders (`gt ge lt le`) a boolean, or
/// uses `co`/`sw`/`ew` on a non-string, or compares a `dateTime` with
/// something that is not a date.
pub fn check_filter(kind: ResourceKind, filter: &Filter) -> Result<(), ScimError> {
    check(Scope::Resource(kind), filter)
}

fn check(scope: Scope, filter: &Filter) -> Result<(), ScimError> {
    let bad = |msg: String| Err(ScimError::bad_request(ScimType::InvalidFilter, msg));
    match filter {
        Filter::And(l, r) | Filter::Or(l, r) => {
            check(scope, l)?;
            check(scope, r)
        }
        Filter::Not(x) => check(scope, x),
        Filter::Present(path) => match leaf_def(scope, path) {
            Some(_) => Ok(()),
            None => bad(format!("unknown attribute `{path}`")),
        },
        Filter::Compare { path, op, value } => {
            let Some(def) = leaf_def(scope, path) else {
                return bad(format!("unknown attribute `{path}`"));
            };
            let text = matches!(def.ty, AttrType::String | AttrType::Reference);
            match (def.ty, op, value) {
                (_, _, CompValue::Null) if matches!(op, CompareOp::Eq | CompareOp::Ne) => Ok(()),
                (AttrType::Boolean, CompareOp::Eq | CompareOp::Ne, CompValue::Bool(_)) => Ok(()),
                (AttrType::Boolean, _, _) => bad(format!(
                    "`{path}` is a boolean: only `eq`/`ne` true or false"
                )),
                (AttrType::Integer | AttrType::Decimal, o, CompValue::Num(_))
                    if !matches!(o, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) =>
                {
                    Ok(())
                }
                (AttrType::DateTime, o, CompValue::Str(s))
                    if time::parse(s).is_some()
                        || matches!(o, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) =>
                {
                    Ok(())
                }
                (_, _, CompValue::Str(_)) if text => Ok(()),
                (AttrType::Complex, _, _) => {
                    bad(format!("`{path}` is complex: name a sub-attribute"))
                }
                _ => bad(format!(
                    "`{path}` is a {}: `{} {value}` does not apply",
                    def.ty.as_str(),
                    op.as_str()
                )),
            }
        }
        Filter::ValuePath { path, filter } => {
            let def = match scope {
                Scope::Resource(kind) => {
                    resolve(kind, path.urn.as_deref(), &path.name).map(|r| r.attr)
                }
                Scope::Value(_) => None,
            };
            match def {
                Some(def) if def.ty == AttrType::Complex && path.sub.is_none() => {
                    check(Scope::Value(def), filter)
                }
                Some(_) => bad(format!("`{path}` is not a complex attribute")),
                None => bad(format!("unknown attribute `{path}`")),
            }
        }
    }
}

/// The definition a comparison on `path` applies to.
fn leaf_def(scope: Scope, path: &AttrPath) -> Option<&'static AttrDef> {
    let def = match scope {
        Scope::Resource(kind) => resolve(kind, path.urn.as_deref(), &path.name)?.attr,
        Scope::Value(parent) => {
            if path.urn.is_some() || path.sub.is_some() {
                return None;
            }
            parent.sub_attr(&path.name)?
        }
    };
    match &path.sub {
        Some(sub) => def.sub_attr(sub),
        None if def.ty == AttrType::Complex => Some(def.sub_attr("value").unwrap_or(def)),
        None => Some(def),
    }
}

/// Resolves a `sortBy` path to its definition, or `invalidValue`
/// (RFC 7644 §3.4.2.3 does not name the error; `invalidValue` is used).
pub(crate) fn check_sort(kind: ResourceKind, path: &AttrPath) -> Result<(), ScimError> {
    match leaf_def(Scope::Resource(kind), path) {
        Some(def) if def.ty != AttrType::Complex => Ok(()),
        _ => Err(ScimError::invalid_value(
            "sortBy",
            format!("cannot sort by `{path}`"),
        )),
    }
}

/// Orders two resources by `path` (RFC 7644 §3.4.2.3): by the attribute's
/// type and caseExact; a multi-valued attribute sorts by its primary (else
/// first) value; resources without a value sort last in ascending order.
pub fn sort_cmp(kind: ResourceKind, path: &AttrPath, a: &Value, b: &Value) -> Ordering {
    let key = |r: &Value| -> Option<(&'static AttrDef, Value)> {
        let (def, values) = lookup_sort(kind, path, r)?;
        Some((def, values))
    };
    match (key(a), key(b)) {
        (Some((def, x)), Some((_, y))) => sort_values(def, &x, &y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn lookup_sort(
    kind: ResourceKind,
    path: &AttrPath,
    r: &Value,
) -> Option<(&'static AttrDef, Value)> {
    let (def, raw) = lookup_attr(Scope::Resource(kind), path, r)?;
    let raw = raw?;
    let item = match raw {
        Value::Array(items) => items
            .iter()
            .find(|i| get_ci(i, "primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?,
        v => v,
    };
    let sub = match &path.sub {
        Some(sub) => Some(def.sub_attr(sub)?),
        None if def.ty == AttrType::Complex => def.sub_attr("value"),
        None => None,
    };
    match sub {
        Some(sub) => get_ci(item, sub.name)
            .filter(|v| present(v))
            .map(|v| (sub, v.clone())),
        None => Some((def, item.clone())).filter(|(_, v)| present(v)),
    }
}

fn sort_values(def: &AttrDef, a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if def.ty == AttrType::DateTime
                && let (Some(p), Some(q)) = (time::parse(x), time::parse(y))
            {
                return p.cmp(&q);
            }
            if def.case_exact {
                x.cmp(y)
            } else {
                x.to_lowercase().cmp(&y.to_lowercase())
            }
        }
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .zip(y.as_f64())
            .and_then(|(p, q)| p.partial_cmp(&q))
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// [`check_filter`] for the value filter of a PATCH path on `def`.
pub(crate) fn check_filter_in(def: &'static AttrDef, filter: &Filter) -> Result<(), ScimError> {
    check(Scope::Value(def), filter)
}

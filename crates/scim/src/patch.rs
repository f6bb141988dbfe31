//! PATCH (RFC 7644 §3.5.2): parsing a `PatchOp` request and applying its
//! operations to a resource in canonical form.
//!
//! Besides the RFC forms, the shapes Okta and Entra ID send are accepted:
//! - `op` in any case (`"Replace"`, `"Add"`, `"Remove"`: Entra ID);
//! - no `path`, `value` an object of attributes whose keys may themselves be
//!   paths (`"name.givenName"`, `"urn:…:enterprise:2.0:User:department"`);
//! - `"True"`/`"False"` strings for booleans;
//! - `remove` of `members` with a `value` listing the members to remove
//!   (Entra ID) as well as `members[value eq "…"]` (Okta);
//! - `id` (unchanged) inside a no-path `replace` value (Okta group rename);
//! - `add`/`replace` on `emails[type eq "work"].value` when no work email
//!   exists yet creates `{"type":"work","value":…}` (the filter's `eq`
//!   terms become the new value's sub-attributes) instead of `noTarget`.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::eval::{Scope, check_filter_in, eval};
use crate::filter::{AttrPath, CompValue, CompareOp, Filter, PatchPath, parse_path};
use crate::schema::{AttrDef, AttrType, Mutability, PATCH_OP_SCHEMA, ResourceKind, resolve};
use crate::validate::{is_primary, join, norm_attr, norm_multi, norm_single};

/// Most operations in one PATCH request.
pub const MAX_OPERATIONS: usize = 1_000;

/// A PATCH operation's verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchOpKind {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

/// One parsed PATCH operation.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOperation {
    /// The verb.
    pub op: PatchOpKind,
    /// The target, if given.
    pub path: Option<PatchPath>,
    /// The value, if given.
    pub value: Option<Value>,
}

/// Parses a `PatchOp` request body (RFC 7644 §3.5.2). `schemas`, when
/// present, must include the PatchOp URN; `Operations` (any case) must be a
/// non-empty array of at most [`MAX_OPERATIONS`].
pub fn parse_patch(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(
            "",
            "the body must be a JSON object",
        ));
    };
    if let Some(schemas) = obj.get("schemas") {
        let ok = schemas.as_array().is_some_and(|a| {
            a.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            })
        });
        if !ok {
            return Err(ScimError::invalid_syntax(
                "schemas",
                format!("must contain {PATCH_OP_SCHEMA}"),
            ));
        }
    }
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .map(|(_, v)| v);
    let Some(Value::Array(ops)) = ops else {
        return Err(ScimError::invalid_syntax("Operations", "must be an array"));
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("Operations", "must not be empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(
            "Operations",
            format!("more than {MAX_OPERATIONS} operations"),
        ));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_operation(op, &format!("Operations[{i}]")))
        .collect()
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn parse_operation(op: &Value, at: &str) -> Result<PatchOperation, ScimError> {
    let Value::Object(obj) = op else {
        return Err(ScimError::invalid_syntax(at, "must be an object"));
    };
    let verb = match field(obj, "op").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("add") => PatchOpKind::Add,
        Some(s) if s.eq_ignore_ascii_case("remove") => PatchOpKind::Remove,
        Some(s) if s.eq_ignore_ascii_case("replace") => PatchOpKind::Replace,
        _ => {
            return Err(ScimError::invalid_syntax(
                &join(at, "op"),
                "must be \"add\", \"remove\" or \"replace\"",
            ));
        }
    };
    let path = match field(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_path(s).map_err(|e| {
            ScimError::bad_request(ScimType::InvalidPath, format!("{}.path: {e}", at))
        })?),
        Some(_) => {
            return Err(ScimError::invalid_syntax(
                &join(at, "path"),
                "must be a string",
            ));
        }
    };
    let value = field(obj, "value").cloned();
    if verb != PatchOpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_syntax(&join(at, "value"), "is required"));
    }
    Ok(PatchOperation {
        op: verb,
        path,
        value,
    })
}

/// Applies the operations in order to `body` (a resource in canonical
/// form, with `id`). All or nothing: on error the caller keeps its copy.
pub fn apply_patch(
    kind: ResourceKind,
    body: &mut Map<String, Value>,
    ops: &[PatchOperation],
) -> Result<(), ScimError> {
    for (i, op) in ops.iter().enumerate() {
        let at = format!("Operations[{i}]");
        let value = op.value.as_ref().unwrap_or(&Value::Null);
        match &op.path {
            None => {
                if op.op == PatchOpKind::Remove {
                    return Err(ScimError::bad_request(
                        ScimType::NoTarget,
                        format!("{at}: remove needs a path"),
                    ));
                }
                apply_object(kind, body, None, op.op, value, &join(&at, "value"))?;
            }
            Some(path) => apply_path(kind, body, op.op, path, value, &at)?,
        }
    }
    Ok(())
}

/// No path (or a whole-extension path): `value` is an object of attributes
/// (RFC 7644 §3.5.2.1, §3.5.2.3).
fn apply_object(
    kind: ResourceKind,
    body: &mut Map<String, Value>,
    ext: Option<&'static str>,
    op: PatchOpKind,
    value: &Value,
    at: &str,
) -> Result<(), ScimError> {
    let Value::Object(obj) = value else {
        return Err(ScimError::invalid_value(
            at,
            "must be an object of attributes",
        ));
    };
    for (key, v) in obj {
        let here = join(at, key);
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if ext.is_none() {
            if let Some(e) = kind.extension(key) {
                apply_object(kind, body, Some(e.id), op, v, &here)?;
                continue;
            }
            // Okta sends the unchanged id in a group rename.
            if key.eq_ignore_ascii_case("id") && body.get("id") == Some(v) {
                continue;
            }
        }
        let path = match ext {
            Some(urn) => PatchPath {
                attr: AttrPath {
                    urn: Some(urn.to_owned()),
                    name: key.clone(),
                    sub: None,
                },
                filter: None,
                sub: None,
            },
            None => parse_path(key).map_err(|e| {
                ScimError::bad_request(ScimType::InvalidPath, format!("{here}: {e}"))
            })?,
        };
        if path.attr.name.is_empty() || path.filter.is_some() {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!("{here}: not an attribute name"),
            ));
        }
        apply_path_at(kind, body, op, &path, v, &here, &here)?;
    }
    Ok(())
}

fn apply_path(
    kind: ResourceKind,
    body: &mut Map<String, Value>,
    op: PatchOpKind,
    path: &PatchPath,
    value: &Value,
    at: &str,
) -> Result<(), ScimError> {
    let path_at = join(at, "path");
    if path.attr.name.is_empty() {
        // A whole extension, e.g. "urn:…:enterprise:2.0:User".
        let urn = path.attr.urn.as_deref().unwrap_or_default();
        let Some(ext) = kind.extension(urn) else {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!("{path_at}: `{urn}` is not an extension of {}", kind.name()),
            ));
        };
        return match op {
            PatchOpKind::Remove => {
                body.remove(ext.id);
                Ok(())
            }
            _ => {
                if op == PatchOpKind::Replace {
                    body.remove(ext.id);
                }
                apply_object(kind, body, Some(ext.id), op, value, &join(at, "value"))
            }
        };
    }
    apply_path_at(kind, body, op, path, value, &path_at, &join(at, "value"))
}

fn invalid_path(at: &str, detail: impl std::fmt::Display) -> ScimError {
    ScimError::bad_request(ScimType::InvalidPath, format!("{at}: {detail}"))
}

/// Applies one operation on one attribute path.
fn apply_path_at(
    kind: ResourceKind,
    body: &mut Map<String, Value>,
    op: PatchOpKind,
    path: &PatchPath,
    value: &Value,
    path_at: &str,
    value_at: &str,
) -> Result<(), ScimError> {
    let attr = &path.attr;
    let Some(r) = resolve(kind, attr.urn.as_deref(), &attr.name) else {
        return Err(invalid_path(
            path_at,
            format!("{} has no attribute `{attr}`", kind.name()),
        ));
    };
    let def = r.attr;
    if def.mutability == Mutability::ReadOnly {
        return Err(ScimError::mutability(
            path_at,
            format!("`{}` is readOnly", def.name),
        ));
    }
    if def.mutability == Mutability::WriteOnly {
        // password: accepted and discarded, like on create.
        return Ok(());
    }
    // The sub-attribute targeted, written `a.b` or `a[filter].b`.
    let sub_name = attr.sub.as_deref().or(path.sub.as_deref());
    let sub = match sub_name {
        Some(s) => {
            let Some(sub) = def.sub_attr(s) else {
                return Err(invalid_path(
                    path_at,
                    format!("`{}` has no sub-attribute `{s}`", def.name),
                ));
            };
            if sub.mutability == Mutability::ReadOnly || sub.mutability == Mutability::Immutable {
                return Err(ScimError::mutability(
                    path_at,
                    format!("`{}.{}` is {}", def.name, sub.name, sub.mutability.as_str()),
                ));
            }
            Some(sub)
        }
        None => None,
    };
    let container = match r.ext {
        None => body,
        Some(urn) => {
            let slot = body
                .entry(urn.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            match slot.as_object_mut() {
                Some(m) => m,
                None => return Err(ScimError::status(500, "internal error")),
            }
        }
    };
    match (&path.filter, sub) {
        (None, None) => whole(container, def, op, value, value_at),
        (None, Some(sub)) => {
            if def.multi {
                all_values_sub(container, def, sub, op, value, value_at)
            } else {
                single_sub(container, def, sub, op, value, value_at)
            }
        }
        (Some(filter), sub) => {
            if !(def.multi && def.ty == AttrType::Complex) {
                return Err(invalid_path(
                    path_at,
                    format!("`{}` is not a multi-valued complex attribute", def.name),
                ));
            }
            check_filter_in(def, filter).map_err(|e| invalid_path(path_at, e.detail))?;
            filtered(container, def, filter, sub, op, value, value_at)
        }
    }
}

/// Two values of a multi-valued attribute that stand for the same thing:
/// the same `value` (and `type`, when either has one).
fn same_element(def: &AttrDef, a: &Value, b: &Value) -> bool {
    let exact = def.sub_attr("value").is_some_and(|s| s.case_exact);
    let text_eq = |x: Option<&Value>, y: Option<&Value>| match (x, y) {
        (Some(Value::String(p)), Some(Value::String(q))) => {
            if exact {
                p == q
            } else {
                p.to_lowercase() == q.to_lowercase()
            }
        }
        (x, y) => x == y,
    };
    match (a.get("value"), b.get("value")) {
        (Some(_), Some(_)) => {
            text_eq(a.get("value"), b.get("value"))
                && (def.name == "members" || text_eq(a.get("type"), b.get("type")))
        }
        _ => a == b,
    }
}

/// After a change that marked `touched` values primary, keeps only one
/// primary: the last touched one (RFC 7644 §3.5.2: setting primary clears
/// the others).
fn fix_primary(items: &mut [Value], touched: &[usize]) {
    if items.iter().filter(|v| is_primary(v)).count() <= 1 {
        return;
    }
    let keep = touched
        .iter()
        .rev()
        .copied()
        .find(|&i| items.get(i).is_some_and(is_primary))
        .or_else(|| items.iter().position(is_primary));
    for (i, item) in items.iter_mut().enumerate() {
        if Some(i) != keep
            && is_primary(item)
            && let Some(obj) = item.as_object_mut()
        {
            obj.insert("primary".into(), Value::Bool(false));
        }
    }
}

fn take_array(container: &mut Map<String, Value>, name: &str) -> Vec<Value> {
    match container.remove(name) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

fn put_array(container: &mut Map<String, Value>, name: &str, items: Vec<Value>) {
    if !items.is_empty() {
        container.insert(name.to_owned(), Value::Array(items));
    }
}

/// `path` is the attribute itself (or no path).
fn whole(
    container: &mut Map<String, Value>,
    def: &AttrDef,
    op: PatchOpKind,
    value: &Value,
    at: &str,
) -> Result<(), ScimError> {
    if def.multi {
        let given = match value {
            Value::Array(_) | Value::Null => value.clone(),
            other => Value::Array(vec![other.clone()]),
        };
        match op {
            PatchOpKind::Remove => {
                let Value::Array(remove) = given else {
                    container.remove(def.name);
                    return Ok(());
                };
                // Entra ID: remove the listed members.
                let mut items = take_array(container, def.name);
                items.retain(|item| !remove.iter().any(|r| same_element(def, item, r)));
                put_array(container, def.name, items);
            }
            PatchOpKind::Replace => match norm_multi(def, &given, at)? {
                Some(v) => {
                    container.insert(def.name.to_owned(), v);
                }
                None => {
                    container.remove(def.name);
                }
            },
            PatchOpKind::Add => {
                let Some(Value::Array(new)) = norm_multi(def, &given, at)? else {
                    return Ok(());
                };
                let mut items = take_array(container, def.name);
                let mut touched = Vec::new();
                for n in new {
                    match items.iter().position(|i| same_element(def, i, &n)) {
                        Some(i) => {
                            if let Some(slot) = items.get_mut(i) {
                                *slot = n;
                            }
                            touched.push(i);
                        }
                        None => {
                            touched.push(items.len());
                            items.push(n);
                        }
                    }
                }
                fix_primary(&mut items, &touched);
                put_array(container, def.name, items);
            }
        }
        return Ok(());
    }
    if op == PatchOpKind::Remove {
        container.remove(def.name);
        return Ok(());
    }
    match norm_single(def, value, at)? {
        None => {
            if op == PatchOpKind::Replace || value.is_null() {
                container.remove(def.name);
            }
        }
        Some(Value::Object(new)) if def.ty == AttrType::Complex => {
            // Complex: given sub-attributes replace, others stay (§3.5.2.3).
            let slot = container
                .entry(def.name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            match slot.as_object_mut() {
                Some(old) => old.extend(new),
                None => *slot = Value::Object(new),
            }
        }
        Some(v) => {
            container.insert(def.name.to_owned(), v);
        }
    }
    Ok(())
}

/// `name.givenName`: a sub-attribute of a single-valued complex attribute.
fn single_sub(
    container: &mut Map<String, Value>,
    def: &AttrDef,
    sub: &AttrDef,
    op: PatchOpKind,
    value: &Value,
    at: &str,
) -> Result<(), ScimError> {
    let new = match op {
        PatchOpKind::Remove => None,
        _ => norm_attr(sub, value, at)?,
    };
    let slot = container
        .entry(def.name.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(obj) = slot.as_object_mut() {
        match new {
            Some(v) => {
                obj.insert(sub.name.to_owned(), v);
            }
            None => {
                obj.remove(sub.name);
            }
        }
        if obj.is_empty() {
            container.remove(def.name);
        }
    }
    Ok(())
}

/// `emails.value` (no filter): the sub-attribute of every value.
fn all_values_sub(
    container: &mut Map<String, Value>,
    def: &AttrDef,
    sub: &AttrDef,
    op: PatchOpKind,
    value: &Value,
    at: &str,
) -> Result<(), ScimError> {
    let new = match op {
        PatchOpKind::Remove => None,
        _ => norm_attr(sub, value, at)?,
    };
    let mut items = take_array(container, def.name);
    if items.is_empty() {
        if let Some(v) = new.clone() {
            let mut obj = Map::new();
            obj.insert(sub.name.to_owned(), v);
            items.push(Value::Object(obj));
        }
    } else {
        for item in &mut items {
            set_sub(item, sub, new.clone());
        }
        items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
    }
    let touched: Vec<usize> = (0..items.len()).collect();
    fix_primary(&mut items, &touched);
    put_array(container, def.name, items);
    Ok(())
}

fn set_sub(item: &mut Value, sub: &AttrDef, v: Option<Value>) {
    if let Some(obj) = item.as_object_mut() {
        match v {
            Some(v) => {
                obj.insert(sub.name.to_owned(), v);
            }
            None => {
                obj.remove(sub.name);
            }
        }
    }
}

/// The `eq` terms of a conjunction, as the sub-attributes of a new value
/// (`type eq "work"` → `{"type":"work"}`); `None` for any other filter.
fn eq_terms(def: &AttrDef, filter: &Filter, out: &mut Map<String, Value>) -> Option<()> {
    match filter {
        Filter::And(l, r) => {
            eq_terms(def, l, out)?;
            eq_terms(def, r, out)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() => {
            let sub = def.sub_attr(&path.name)?;
            let v = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Num(n) => Value::Number(n.clone()),
                CompValue::Null => return None,
            };
            out.insert(sub.name.to_owned(), v);
            Some(())
        }
        _ => None,
    }
}

/// `members[value eq "…"]` and `emails[type eq "work"].value`.
fn filtered(
    container: &mut Map<String, Value>,
    def: &'static AttrDef,
    filter: &Filter,
    sub: Option<&AttrDef>,
    op: PatchOpKind,
    value: &Value,
    at: &str,
) -> Result<(), ScimError> {
    let mut items = take_array(container, def.name);
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| eval(Scope::Value(def), filter, item))
        .map(|(i, _)| i)
        .collect();
    if op == PatchOpKind::Remove {
        let mut i = 0;
        items.retain(|_| {
            let hit = hits.contains(&i);
            i += 1;
            match (hit, sub) {
                (false, _) | (true, None) => !hit,
                (true, Some(_)) => true,
            }
        });
        if let Some(sub) = sub {
            for &h in &hits {
                if let Some(item) = items.get_mut(h) {
                    set_sub(item, sub, None);
                }
            }
            items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
        }
        put_array(container, def.name, items);
        return Ok(());
    }
    // add / replace: the new value (or sub-attribute value).
    let new = match sub {
        Some(sub) => norm_attr(sub, value, at)?,
        None => norm_single(def, value, at)?,
    };
    let Some(new) = new else {
        // A null value: treated as remove of the target.
        return filtered(
            container_with(container, def.name, items),
            def,
            filter,
            sub,
            PatchOpKind::Remove,
            value,
            at,
        );
    };
    let mut touched = Vec::new();
    if hits.is_empty() {
        let mut created = Map::new();
        if eq_terms(def, filter, &mut created).is_none() {
            put_array(container, def.name, items);
            return Err(ScimError::bad_request(
                ScimType::NoTarget,
                format!("{at}: the value filter `{filter}` matched no value"),
            ));
        }
        match (sub, new) {
            (Some(sub), v) => {
                created.insert(sub.name.to_owned(), v);
            }
            (None, Value::Object(obj)) => created.extend(obj),
            (None, _) => {}
        }
        touched.push(items.len());
        items.push(Value::Object(created));
    } else {
        for &h in &hits {
            let Some(item) = items.get_mut(h) else {
                continue;
            };
            match (sub, op, &new) {
                (Some(sub), _, v) => set_sub(item, sub, Some(v.clone())),
                (None, PatchOpKind::Add, Value::Object(obj)) => {
                    if let Some(old) = item.as_object_mut() {
                        old.extend(obj.clone());
                    }
                }
                (None, _, v) => *item = v.clone(),
            }
            touched.push(h);
        }
    }
    fix_primary(&mut items, &touched);
    // Replacing several matches with one value may leave duplicates.
    let mut unique: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    put_array(container, def.name, unique);
    Ok(())
}

fn container_with<'a>(
    container: &'a mut Map<String, Value>,
    name: &str,
    items: Vec<Value>,
) -> &'a mut Map<String, Value> {
    put_array(container, name, items);
    container
}

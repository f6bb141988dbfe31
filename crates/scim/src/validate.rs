//! Validation of incoming resource JSON against the schema table, into the
//! canonical form the store keeps. Every problem names the JSON path of the
//! input.
//!
//! Canonical form: attribute names in their schema case; extension
//! attributes inside an object keyed by the extension URN; no `null`s,
//! empty strings kept, empty arrays and objects dropped (RFC 7643 §2.5:
//! unassigned); `"True"`/`"False"` strings read as booleans (Entra ID sends
//! them); readOnly attributes (`id`, `meta`, `groups`, `members.display`)
//! and the writeOnly `password` dropped; unknown attributes ignored
//! (RFC 7644 §3.3 lets the service provider ignore them).

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{AttrDef, AttrType, CUSTOS_SCHEMA, Mutability, ResourceKind, resolve};
use crate::time;

/// Longest accepted string value, in bytes.
pub const MAX_STRING_LEN: usize = 16 * 1024;
/// Most values of one multi-valued attribute (group members included).
pub const MAX_VALUES: usize = 10_000;

/// `parent.key`, or `key` at the root.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Validates a User or Group body (POST, PUT) into canonical form, with
/// `schemas` set. Does not check required attributes: see
/// [`check_resource`].
pub(crate) fn normalize(
    kind: ResourceKind,
    input: &Value,
) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(obj) = input else {
        return Err(ScimError::invalid_syntax(
            "",
            "the body must be a JSON object",
        ));
    };
    let mut out = Map::new();
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in obj {
        let lower = key.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(ScimError::invalid_syntax(key, "attribute given twice"));
        }
        seen.push(lower);
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(kind, value)?;
            continue;
        }
        if let Some(ext) = kind.extension(key) {
            if value.is_null() {
                continue;
            }
            let Value::Object(inner) = value else {
                return Err(ScimError::invalid_value(
                    key,
                    "an extension must be an object",
                ));
            };
            let mut ext_out = Map::new();
            for (k, v) in inner {
                if let Some(def) = ext.attr(k)
                    && let Some(v) = norm_attr(def, v, &join(key, k))?
                {
                    ext_out.insert(def.name.to_owned(), v);
                }
            }
            if !ext_out.is_empty() {
                out.insert(ext.id.to_owned(), Value::Object(ext_out));
            }
            continue;
        }
        let Some(r) = resolve(kind, None, key).filter(|r| r.ext.is_none()) else {
            continue; // unknown: ignored
        };
        if let Some(v) = norm_attr(r.attr, value, key)? {
            out.insert(r.attr.name.to_owned(), v);
        }
    }
    set_schemas(kind, &mut out);
    Ok(out)
}

fn check_schemas(kind: ResourceKind, value: &Value) -> Result<(), ScimError> {
    let Value::Array(items) = value else {
        return Err(ScimError::invalid_syntax(
            "schemas",
            "must be an array of URNs",
        ));
    };
    let mut has_core = false;
    for (i, item) in items.iter().enumerate() {
        let Value::String(urn) = item else {
            return Err(ScimError::invalid_syntax(
                &format!("schemas[{i}]"),
                "must be a string",
            ));
        };
        if urn.eq_ignore_ascii_case(kind.schema().id) {
            has_core = true;
        } else if kind.extension(urn).is_none() {
            return Err(ScimError::invalid_value(
                &format!("schemas[{i}]"),
                format!("`{urn}` is not a schema of {}", kind.name()),
            ));
        }
    }
    if !has_core {
        return Err(ScimError::invalid_value(
            "schemas",
            format!("must contain {}", kind.schema().id),
        ));
    }
    Ok(())
}

/// Sets `schemas` to the core schema and the extensions present.
pub(crate) fn set_schemas(kind: ResourceKind, body: &mut Map<String, Value>) {
    let mut schemas = vec![Value::String(kind.schema().id.to_owned())];
    for ext in kind.extensions() {
        if body
            .get(ext.id)
            .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        {
            schemas.push(Value::String(ext.id.to_owned()));
        } else {
            body.remove(ext.id);
        }
    }
    body.insert("schemas".into(), Value::Array(schemas));
}

/// Validates one attribute value (single or multi); `Ok(None)`: unassigned
/// or not writable (readOnly, writeOnly password).
pub(crate) fn norm_attr(def: &AttrDef, v: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    if matches!(def.mutability, Mutability::ReadOnly | Mutability::WriteOnly) {
        return Ok(None);
    }
    if def.multi {
        norm_multi(def, v, path)
    } else {
        norm_single(def, v, path)
    }
}

/// A multi-valued attribute: an array of values (at most one primary).
pub(crate) fn norm_multi(def: &AttrDef, v: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    let items = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        _ => return Err(ScimError::invalid_value(path, "must be an array")),
    };
    if items.len() > MAX_VALUES {
        return Err(ScimError::invalid_value(
            path,
            format!("more than {MAX_VALUES} values"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(x) = norm_single(def, item, &format!("{path}[{i}]"))?
            && !out.contains(&x)
        {
            out.push(x);
        }
    }
    if out.iter().filter(|x| is_primary(x)).count() > 1 {
        return Err(ScimError::invalid_value(
            path,
            "at most one value may be primary (RFC 7643 §2.4)",
        ));
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Array(out))
    })
}

pub(crate) fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// One value of an attribute (a single-valued attribute, or one element of a
/// multi-valued one).
pub(crate) fn norm_single(
    def: &AttrDef,
    v: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if v.is_null() {
        return Ok(None);
    }
    let want = |what: &str| Err(ScimError::invalid_value(path, format!("must be {what}")));
    match def.ty {
        AttrType::String | AttrType::Reference => {
            let Value::String(s) = v else {
                return want("a string");
            };
            if s.len() > MAX_STRING_LEN {
                return Err(ScimError::invalid_value(
                    path,
                    format!("longer than {MAX_STRING_LEN} bytes"),
                ));
            }
            if def.strict_canonical {
                let Some(c) = def.canonical.iter().find(|c| c.eq_ignore_ascii_case(s)) else {
                    return Err(ScimError::invalid_value(
                        path,
                        format!("must be one of {}", def.canonical.join(", ")),
                    ));
                };
                return Ok(Some(Value::String((*c).to_owned())));
            }
            Ok(Some(v.clone()))
        }
        AttrType::Boolean => match v {
            Value::Bool(_) => Ok(Some(v.clone())),
            // Entra ID sends "True" / "False".
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => want("true or false"),
        },
        AttrType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(v.clone())),
            _ => want("an integer"),
        },
        AttrType::Decimal => match v {
            Value::Number(_) => Ok(Some(v.clone())),
            _ => want("a number"),
        },
        AttrType::DateTime => match v {
            Value::String(s) if time::parse(s).is_some() => Ok(Some(v.clone())),
            _ => want("a dateTime such as \"2025-06-01T03:04:05Z\""),
        },
        AttrType::Complex => {
            let Value::Object(obj) = v else {
                return want("an object");
            };
            let mut out = Map::new();
            for (k, x) in obj {
                let Some(sub) = def.sub_attr(k) else {
                    continue;
                };
                if let Some(x) = norm_attr(sub, x, &join(path, k))? {
                    out.insert(sub.name.to_owned(), x);
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            })
        }
    }
}

/// Checks what only a whole resource can show: required attributes
/// (RFC 7643 §2.2: `userName`, `displayName`) and the Custos extension rule
/// that `supplier_staff` needs a `supplierId`.
pub(crate) fn check_resource(
    kind: ResourceKind,
    body: &Map<String, Value>,
) -> Result<(), ScimError> {
    for def in kind.schema().attributes.iter().filter(|d| d.required) {
        match body.get(def.name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(Value::String(_)) => {
                return Err(ScimError::invalid_value(def.name, "must not be empty"));
            }
            Some(_) => {}
            None => return Err(ScimError::invalid_value(def.name, "is required")),
        }
    }
    if kind == ResourceKind::User {
        let ext = body.get(CUSTOS_SCHEMA);
        let kind_of = ext
            .and_then(|e| e.get("principalKind"))
            .and_then(Value::as_str);
        let supplier = ext
            .and_then(|e| e.get("supplierId"))
            .and_then(Value::as_str);
        if kind_of == Some("supplier_staff") && supplier.is_none_or(|s| s.trim().is_empty()) {
            return Err(ScimError::invalid_value(
                &format!("{CUSTOS_SCHEMA}.supplierId"),
                "is required when principalKind is supplier_staff",
            ));
        }
    }
    Ok(())
}

//! List parameters (RFC 7644 §3.4.2: filter, sortBy, sortOrder,
//! startIndex, count) and attribute projection (§3.9: attributes,
//! excludedAttributes).

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::eval::{check_filter, check_sort};
use crate::filter::{AttrPath, Filter, parse_filter, parse_path};
use crate::schema::{ResourceKind, resolve};
use crate::store::SortSpec;

/// Validated list parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ListParams {
    /// The filter, checked against the schema.
    pub filter: Option<Filter>,
    /// The sort order.
    pub sort: Option<SortSpec>,
    /// 1-based start (values below 1 read as 1, RFC 7644 §3.4.2.4).
    pub start_index: usize,
    /// Page size: negative reads as 0, absent or above the maximum as the
    /// maximum.
    pub count: usize,
    /// Which attributes to return.
    pub projection: Projection,
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.9). `id` and `schemas`
/// are always returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Projection {
    /// Return only these (plus `id`, `schemas`), if non-empty.
    pub attributes: Vec<AttrPath>,
    /// Return all but these (ignored when `attributes` is given).
    pub excluded: Vec<AttrPath>,
}

fn int_param(name: &str, v: &str) -> Result<i64, ScimError> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(name, format!("`{v}` is not an integer")))
}

fn paths(name: &str, v: &str) -> Result<Vec<AttrPath>, ScimError> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let p = parse_path(s).map_err(|e| ScimError::invalid_value(name, e))?;
            if p.filter.is_some() {
                return Err(ScimError::invalid_value(
                    name,
                    "value filters are not allowed here",
                ));
            }
            Ok(p.attr)
        })
        .collect()
}

/// Parses query parameters (names case-insensitive; unknown ones ignored).
pub fn parse_list_params<K: AsRef<str>, V: AsRef<str>>(
    kind: ResourceKind,
    query: &[(K, V)],
    max_results: usize,
) -> Result<ListParams, ScimError> {
    let mut filter = None;
    let mut sort_by = None;
    let mut descending = false;
    let mut start_index = 1usize;
    let mut count = max_results;
    let mut projection = Projection::default();
    for (k, v) in query {
        let (k, v) = (k.as_ref(), v.as_ref());
        match k.to_ascii_lowercase().as_str() {
            "filter" => {
                let f = parse_filter(v).map_err(|e| {
                    ScimError::bad_request(ScimType::InvalidFilter, format!("filter {e}"))
                })?;
                check_filter(kind, &f)?;
                filter = Some(f);
            }
            "startindex" => {
                let n = int_param("startIndex", v)?;
                start_index = usize::try_from(n.max(1)).unwrap_or(usize::MAX);
            }
            "count" => {
                let n = int_param("count", v)?;
                count = usize::try_from(n.max(0))
                    .unwrap_or(usize::MAX)
                    .min(max_results);
            }
            "sortby" => {
                let p = parse_path(v).map_err(|e| ScimError::invalid_value("sortBy", e))?;
                if p.filter.is_some() || p.attr.name.is_empty() {
                    return Err(ScimError::invalid_value(
                        "sortBy",
                        "must be an attribute path",
                    ));
                }
                check_sort(kind, &p.attr)?;
                sort_by = Some(p.attr);
            }
            "sortorder" => {
                descending = if v.eq_ignore_ascii_case("descending") {
                    true
                } else if v.eq_ignore_ascii_case("ascending") {
                    false
                } else {
                    return Err(ScimError::invalid_value(
                        "sortOrder",
                        "must be \"ascending\" or \"descending\"",
                    ));
                };
            }
            "attributes" => projection.attributes = paths("attributes", v)?,
            "excludedattributes" => projection.excluded = paths("excludedAttributes", v)?,
            _ => {}
        }
    }
    Ok(ListParams {
        filter,
        sort: sort_by.map(|by| SortSpec { by, descending }),
        start_index,
        count,
        projection,
    })
}

/// Parses a `SearchRequest` body (RFC 7644 §3.4.3) into the same
/// parameters.
pub fn parse_search(
    kind: ResourceKind,
    body: &Value,
    max_results: usize,
) -> Result<ListParams, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(
            "",
            "the body must be a JSON object",
        ));
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in obj {
        let text = match (k.as_str(), v) {
            ("schemas", _) => continue,
            (_, Value::String(s)) => s.clone(),
            (_, Value::Number(n)) => n.to_string(),
            (_, Value::Array(items)) => {
                let mut parts = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => parts.push(s.to_owned()),
                        None => {
                            return Err(ScimError::invalid_syntax(
                                &format!("{k}[{i}]"),
                                "must be a string",
                            ));
                        }
                    }
                }
                parts.join(",")
            }
            (_, Value::Null) => continue,
            _ => return Err(ScimError::invalid_syntax(k, "unexpected type")),
        };
        pairs.push((k.clone(), text));
    }
    parse_list_params(kind, &pairs, max_results)
}

impl Projection {
    /// Applies the projection to a rendered resource.
    pub fn apply(&self, kind: ResourceKind, body: &Map<String, Value>) -> Map<String, Value> {
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for key in ["schemas", "id"] {
                if let Some(v) = body.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            for p in &self.attributes {
                include(kind, body, &mut out, p);
            }
            return out;
        }
        let mut out = body.clone();
        for p in &self.excluded {
            exclude(kind, &mut out, p);
        }
        out
    }
}

/// (container key or None for top level, attribute name) of a path.
fn locate(
    kind: ResourceKind,
    p: &AttrPath,
) -> Option<(Option<&'static str>, Option<&'static str>)> {
    if p.name.is_empty() {
        let ext = kind.extension(p.urn.as_deref()?)?;
        return Some((Some(ext.id), None));
    }
    let r = resolve(kind, p.urn.as_deref(), &p.name)?;
    Some((r.ext, Some(r.attr.name)))
}

fn include(
    kind: ResourceKind,
    body: &Map<String, Value>,
    out: &mut Map<String, Value>,
    p: &AttrPath,
) {
    let Some((ext, name)) = locate(kind, p) else {
        return;
    };
    let src = match ext {
        Some(urn) => match body.get(urn).and_then(Value::as_object) {
            Some(o) => o,
            None => return,
        },
        None => body,
    };
    let dst = match ext {
        Some(urn) => {
            let slot = out
                .entry(urn.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            match slot.as_object_mut() {
                Some(o) => o,
                None => return,
            }
        }
        None => out,
    };
    let Some(name) = name else {
        dst.extend(src.clone());
        return;
    };
    if name == "id" {
        return;
    }
    let Some(value) = src.get(name) else {
        return;
    };
    let Some(sub) = &p.sub else {
        dst.insert(name.to_owned(), value.clone());
        return;
    };
    let pick = |item: &Value| -> Option<Value> {
        let (k, v) = item
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sub))?;
        let mut m = Map::new();
        m.insert(k.clone(), v.clone());
        Some(Value::Object(m))
    };
    let picked = match value {
        Value::Array(items) => {
            let v: Vec<Value> = items.iter().filter_map(pick).collect();
            (!v.is_empty()).then_some(Value::Array(v))
        }
        v => pick(v),
    };
    if let Some(v) = picked {
        // Merge with sub-attributes already picked (`name.givenName,name.familyName`).
        match (dst.get_mut(name), v) {
            (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
            (Some(Value::Array(old)), Value::Array(new)) if old.len() == new.len() => {
                for (o, n) in old.iter_mut().zip(new) {
                    if let (Some(o), Value::Object(n)) = (o.as_object_mut(), n) {
                        o.extend(n);
                    }
                }
            }
            (_, v) => {
                dst.insert(name.to_owned(), v);
            }
        }
    }
}

fn exclude(kind: ResourceKind, out: &mut Map<String, Value>, p: &AttrPath) {
    let Some((ext, name)) = locate(kind, p) else {
        return;
    };
    let container = match ext {
        Some(urn) => {
            let Some(name) = name else {
                out.remove(urn);
                return;
            };
            match out.get_mut(urn).and_then(Value::as_object_mut) {
                Some(o) => {
                    exclude_in(o, name, p.sub.as_deref());
                    return;
                }
                None => return,
            }
        }
        None => out,
    };
    if let Some(name) = name
        && name != "id"
    {
        exclude_in(container, name, p.sub.as_deref());
    }
}

fn exclude_in(container: &mut Map<String, Value>, name: &str, sub: Option<&str>) {
    let Some(sub) = sub else {
        container.remove(name);
        return;
    };
    let strip = |item: &mut Value| {
        if let Some(o) = item.as_object_mut() {
            o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
        }
    };
    match container.get_mut(name) {
        Some(Value::Array(items)) => items.iter_mut().for_each(strip),
        Some(v) => strip(v),
        None => {}
    }
}

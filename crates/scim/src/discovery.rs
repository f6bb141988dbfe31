//! Discovery documents (RFC 7644 §4, RFC 7643 §5–§7):
//! `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`.

use serde_json::{Value, json};

use crate::schema::{AttrDef, AttrType, CUSTOS, ENTERPRISE, GROUP, ResourceKind, SchemaDef, USER};

/// All schemas served at `/Schemas`.
pub static ALL_SCHEMAS: [&SchemaDef; 4] = [&USER, &GROUP, &ENTERPRISE, &CUSTOS];

/// The `ServiceProviderConfig` (RFC 7643 §5).
pub fn service_provider_config(base_url: &str, max_results: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://example.invalid/custos/docs/scim.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A Custos credential with the `scim` role, sent as \
                            `Authorization: Bearer …`.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        },
    })
}

fn attr_json(a: &AttrDef) -> Value {
    let mut v = json!({
        "name": a.name,
        "type": a.ty.as_str(),
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "mutability": a.mutability.as_str(),
        "returned": a.returned.as_str(),
    });
    if let Some(obj) = v.as_object_mut() {
        if matches!(a.ty, AttrType::String | AttrType::Reference) {
            obj.insert("caseExact".into(), Value::Bool(a.case_exact));
            obj.insert(
                "uniqueness".into(),
                Value::String(if a.unique { "server" } else { "none" }.into()),
            );
        }
        if !a.canonical.is_empty() {
            obj.insert("canonicalValues".into(), json!(a.canonical));
        }
        if !a.reference_types.is_empty() {
            obj.insert("referenceTypes".into(), json!(a.reference_types));
        }
        if a.ty == AttrType::Complex {
            obj.insert(
                "subAttributes".into(),
                Value::Array(a.sub.iter().map(attr_json).collect()),
            );
        }
    }
    v
}

/// One schema resource (RFC 7643 §7).
pub fn schema_json(base_url: &str, s: &SchemaDef) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attributes.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base_url}/Schemas/{}", s.id),
        },
    })
}

/// One resource type (RFC 7643 §6).
pub fn resource_type_json(base_url: &str, kind: ResourceKind) -> Value {
    let extensions: Vec<Value> = kind
        .extensions()
        .iter()
        .map(|e| json!({"schema": e.id, "required": false}))
        .collect();
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": match kind {
            ResourceKind::User => "A principal: employee, service or supplier staff",
            ResourceKind::Group => "A group of principals",
        },
        "schema": kind.schema().id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base_url}/ResourceTypes/{}", kind.name()),
        },
    });
    if let (Some(obj), false) = (v.as_object_mut(), extensions.is_empty()) {
        obj.insert("schemaExtensions".into(), Value::Array(extensions));
    }
    v
}

//! The SCIM 2.0 core (RFC 7643 / RFC 7644) of Custos: Users (with the
//! Enterprise and Custos extensions) and Groups as Okta and Entra ID
//! provision them. No HTTP framework and no database: [`ScimService`] has
//! one method per route under `/scim/v2`, each returning a
//! [`ScimResponse`] (status, body, ETag, Location, and the
//! [`LifecycleEvent`] the server records in the ledger and, when
//! [`LifecycleEvent::offboards`], acts on). Storage is behind the narrow
//! [`ScimStore`] trait; [`MemoryStore`] implements it in memory.
//!
//! ```
//! use scim::{MemoryStore, ResourceKind, ScimService, ServiceConfig, LifecycleAction};
//!
//! let scim = ScimService::new(MemoryStore::new(), ServiceConfig::default());
//! let created = scim.create(ResourceKind::User, br#"{
//!     "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
//!     "userName": "bjensen@example.com", "active": true}"#);
//! assert_eq!(created.status, 201);
//! let id = created.body.as_ref().and_then(|b| b["id"].as_str()).unwrap_or_default().to_owned();
//!
//! // Entra ID's deactivation: capitalised op, no path, "False" as a string.
//! let patched = scim.patch(ResourceKind::User, &id, br#"{
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Replace", "value": {"active": "False"}}]}"#, None);
//! assert_eq!(patched.status, 200);
//! let event = patched.event.expect("an event");
//! assert_eq!(event.action, LifecycleAction::Deactivated);
//! assert!(event.offboards());
//!
//! let found = scim.list(ResourceKind::User, &[("filter", r#"userName eq "BJensen@example.com""#)]);
//! assert_eq!(found.body.as_ref().map(|b| b["totalResults"].clone()), Some(1.into()));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod discovery;
mod error;
mod eval;
mod event;
mod filter;
mod patch;
mod query;
mod schema;
mod service;
mod store;
mod time;
mod validate;

// The public interface is:
pub use discovery::{ALL_SCHEMAS, resource_type_json, schema_json, service_provider_config};
pub use error::{ERROR_SCHEMA, ScimError, ScimType};
pub use eval::{check_filter, matches, sort_cmp};
pub use event::{LifecycleAction, LifecycleEvent, Principal, PrincipalKind};
pub use filter::{
    AttrPath, CompValue, CompareOp, Filter, FilterError, MAX_DEPTH, MAX_FILTER_LEN, MAX_TERMS,
    PatchPath, parse_filter, parse_path,
};
pub use patch::{MAX_OPERATIONS, PatchOpKind, PatchOperation, apply_patch, parse_patch};
pub use query::{ListParams, Projection, parse_list_params, parse_search};
pub use schema::{
    AttrDef, AttrType, CUSTOS, CUSTOS_SCHEMA, ENTERPRISE, ENTERPRISE_SCHEMA, GROUP, GROUP_SCHEMA,
    LIST_RESPONSE_SCHEMA, Mutability, PATCH_OP_SCHEMA, PRINCIPAL_KINDS, ResourceKind, Returned,
    SEARCH_REQUEST_SCHEMA, SchemaDef, USER, USER_SCHEMA,
};
pub use service::{CONTENT_TYPE, ScimResponse, ScimService, ServiceConfig, Unimplemented};
pub use store::{
    MemoryStore, Page, ScimStore, SortSpec, StoreError, StoreQuery, StoredResource, etag,
    unique_key,
};
pub use validate::{MAX_STRING_LEN, MAX_VALUES};

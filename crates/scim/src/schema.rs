//! Attribute definitions (RFC 7643 §2, §4, §7, §8.7) of the resources Custos
//! serves: User (core, Enterprise extension, Custos extension) and Group.
//! One table drives validation, filter evaluation (caseExact), PATCH
//! mutability, projection (returned) and the `/Schemas` document.

/// Core User schema (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The Custos User extension: principal kind, supplier, region
/// (`docs/scim.md`).
pub const CUSTOS_SCHEMA: &str = "urn:custos:params:scim:schemas:extension:custos:2.0:User";
/// `ListResponse` message schema (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// `PatchOp` message schema (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// `SearchRequest` message schema (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Every schema URN an attribute path may start with.
pub(crate) const KNOWN_URNS: [&str; 4] =
    [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA, CUSTOS_SCHEMA];

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    /// `string`.
    String,
    /// `boolean`.
    Boolean,
    /// `decimal`.
    Decimal,
    /// `integer`.
    Integer,
    /// `dateTime` (xsd:dateTime, with a time zone).
    DateTime,
    /// `reference` (a URI).
    Reference,
    /// `complex`.
    Complex,
}

impl AttrType {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// When an attribute may be written (RFC 7643 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service provider only; ignored on create/replace, refused
    /// by PATCH (`mutability`).
    ReadOnly,
    /// Freely written.
    ReadWrite,
    /// Written once.
    Immutable,
    /// Written, never returned.
    WriteOnly,
}

impl Mutability {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned (RFC 7643 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    /// Always, even when excluded.
    Always,
    /// Never.
    Never,
    /// Unless excluded.
    Default,
    /// Only when asked for in `attributes`.
    Request,
}

impl Returned {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// One attribute definition (RFC 7643 §7).
#[derive(Clone, Copy, Debug)]
pub struct AttrDef {
    /// Name, in its canonical case.
    pub name: &'static str,
    /// Data type.
    pub ty: AttrType,
    /// Multi-valued.
    pub multi: bool,
    /// Required on create and replace.
    pub required: bool,
    /// Case-sensitive comparison (only for strings and references).
    pub case_exact: bool,
    /// Mutability.
    pub mutability: Mutability,
    /// Returned.
    pub returned: Returned,
    /// Uniqueness: `none` or `server`.
    pub unique: bool,
    /// Suggested (or, with `strict_canonical`, enforced) values.
    pub canonical: &'static [&'static str],
    /// Whether a value outside `canonical` is refused (`invalidValue`).
    pub strict_canonical: bool,
    /// `referenceTypes` of a reference.
    pub reference_types: &'static [&'static str],
    /// Sub-attributes of a complex attribute.
    pub sub: &'static [AttrDef],
    /// Human-readable description.
    pub description: &'static str,
}

const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        canonical: &[],
        strict_canonical: false,
        reference_types: &[],
        sub: &[],
        description,
    }
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::String, description)
}

const fn complex(
    name: &'static str,
    sub: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    let mut a = attr(name, AttrType::Complex, description);
    a.sub = sub;
    a
}

impl AttrDef {
    const fn multi(mut self) -> Self {
        self.multi = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    const fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    const fn write_only(mut self) -> Self {
        self.mutability = Mutability::WriteOnly;
        self.returned = Returned::Never;
        self
    }
    const fn always(mut self) -> Self {
        self.returned = Returned::Always;
        self
    }
    const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical = values;
        self
    }
    const fn strict(mut self) -> Self {
        self.strict_canonical = true;
        self
    }
    const fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }

    /// The sub-attribute called `name` (case-insensitive).
    pub fn sub_attr(&self, name: &str) -> Option<&'static AttrDef> {
        self.sub.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

/// A schema (RFC 7643 §7).
#[derive(Debug)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: &'static str,
    /// Short name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Attributes.
    pub attributes: &'static [AttrDef],
}

impl SchemaDef {
    /// The attribute called `name` (case-insensitive).
    pub fn attr(&self, name: &str) -> Option<&'static AttrDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

const TYPE_WHO: &[&str] = &["work", "home", "other"];

const MULTI_SIMPLE: &[AttrDef] = &[
    string("value", "The value."),
    string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    string("type", "A label indicating the attribute's function.").canonical(TYPE_WHO),
    attr(
        "primary",
        AttrType::Boolean,
        "Whether this is the primary value.",
    ),
];

const EMAILS: &[AttrDef] = MULTI_SIMPLE;

const PHONES: &[AttrDef] = &[
    string("value", "The phone number."),
    string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    string("type", "A label indicating the attribute's function.")
        .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    attr(
        "primary",
        AttrType::Boolean,
        "Whether this is the primary value.",
    ),
];

const ADDRESSES: &[AttrDef] = &[
    string("formatted", "The full mailing address."),
    string("streetAddress", "The full street address component."),
    string("locality", "The city or locality component."),
    string("region", "The state or region component."),
    string("postalCode", "The zip code or postal code component."),
    string(
        "country",
        "The country name component (ISO 3166-1 alpha-2).",
    ),
    string("type", "A label indicating the attribute's function.").canonical(TYPE_WHO),
    attr(
        "primary",
        AttrType::Boolean,
        "Whether this is the primary value.",
    ),
];

const NAME: &[AttrDef] = &[
    string("formatted", "The full name, formatted for display."),
    string("familyName", "The family name."),
    string("givenName", "The given name."),
    string("middleName", "The middle name(s)."),
    string("honorificPrefix", "The honorific prefix(es)."),
    string("honorificSuffix", "The honorific suffix(es)."),
];

const USER_GROUPS: &[AttrDef] = &[
    string("value", "The identifier of the User's group.").read_only(),
    attr("$ref", AttrType::Reference, "The URI of the Group.")
        .refs(&["User", "Group"])
        .read_only(),
    string("display", "The group's displayName.").read_only(),
    string("type", "How the membership was derived.")
        .canonical(&["direct", "indirect"])
        .read_only(),
];

const USER_ATTRS: &[AttrDef] = &[
    string(
        "userName",
        "Unique identifier for the User, used to authenticate; unique \
         case-insensitively.",
    )
    .required()
    .unique(),
    complex("name", NAME, "The components of the user's name."),
    string("displayName", "The name of the User, suitable for display."),
    string("nickName", "The casual way to address the user."),
    attr(
        "profileUrl",
        AttrType::Reference,
        "A URI of the User's online profile.",
    )
    .refs(&["external"]),
    string("title", "The user's title."),
    string(
        "userType",
        "The relationship between the organization and the user.",
    ),
    string(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    string("locale", "The User's default location."),
    string("timezone", "The User's time zone (IANA)."),
    attr(
        "active",
        AttrType::Boolean,
        "The User's administrative status; false offboards the principal in Custos.",
    ),
    string(
        "password",
        "Accepted and discarded: Custos does not authenticate with SCIM passwords.",
    )
    .case_exact()
    .write_only(),
    complex("emails", EMAILS, "Email addresses for the user.").multi(),
    complex("phoneNumbers", PHONES, "Phone numbers for the User.").multi(),
    complex(
        "addresses",
        ADDRESSES,
        "A physical mailing address for this User.",
    )
    .multi(),
    complex(
        "groups",
        USER_GROUPS,
        "The groups the user belongs to (read-only; changed through Group resources).",
    )
    .multi()
    .read_only(),
    complex("roles", MULTI_SIMPLE, "Roles for the User.").multi(),
    complex("entitlements", MULTI_SIMPLE, "Entitlements of the User.").multi(),
];

const MANAGER: &[AttrDef] = &[
    string(
        "value",
        "The id of the SCIM resource representing the manager.",
    ),
    attr(
        "$ref",
        AttrType::Reference,
        "The URI of the manager's resource.",
    )
    .refs(&["User"]),
    string("displayName", "The displayName of the manager.").read_only(),
];

const ENTERPRISE_ATTRS: &[AttrDef] = &[
    string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex("manager", MANAGER, "The User's manager."),
];

/// Values of `principalKind` in the Custos extension.
pub const PRINCIPAL_KINDS: &[&str] = &["employee", "service", "supplier_staff"];

const CUSTOS_ATTRS: &[AttrDef] = &[
    string(
        "principalKind",
        "What kind of principal the User is: employee (default), service, or \
         supplier_staff (then supplierId is required).",
    )
    .canonical(PRINCIPAL_KINDS)
    .strict(),
    string(
        "supplierId",
        "The Custos id of the supplier (vendor) employing this principal.",
    )
    .case_exact(),
    string(
        "region",
        "The region where the principal works (e.g. an ISO 3166-1 alpha-2 country code).",
    ),
];

const MEMBERS: &[AttrDef] = &[
    string("value", "The id of a User or Group member.")
        .case_exact()
        .immutable(),
    attr(
        "$ref",
        AttrType::Reference,
        "The URI of the member resource.",
    )
    .refs(&["User", "Group"])
    .immutable(),
    string("display", "The member's name, filled in by the server.").read_only(),
    string("type", "The type of the member.")
        .canonical(&["User", "Group"])
        .immutable(),
];

const GROUP_ATTRS: &[AttrDef] = &[
    string(
        "displayName",
        "A human-readable name for the Group; unique case-insensitively in Custos.",
    )
    .required()
    .unique(),
    complex("members", MEMBERS, "A list of members of the Group.").multi(),
];

const META: &[AttrDef] = &[
    string("resourceType", "The name of the resource type.")
        .case_exact()
        .read_only(),
    attr(
        "created",
        AttrType::DateTime,
        "When the resource was added to the service provider.",
    )
    .read_only(),
    attr(
        "lastModified",
        AttrType::DateTime,
        "When the resource was last changed.",
    )
    .read_only(),
    attr("location", AttrType::Reference, "The URI of the resource.")
        .case_exact()
        .read_only(),
    string("version", "The version (weak ETag) of the resource.")
        .case_exact()
        .read_only(),
];

/// Attributes common to all resources (RFC 7643 §3.1): `id`, `externalId`,
/// `meta`. Not listed in `/Schemas` documents, as the RFC describes them
/// apart.
pub(crate) const COMMON_ATTRS: &[AttrDef] = &[
    string("id", "Unique identifier assigned by the service provider.")
        .case_exact()
        .read_only()
        .always(),
    string(
        "externalId",
        "Identifier assigned by the provisioning client.",
    )
    .case_exact(),
    complex("meta", META, "Resource metadata.").read_only(),
];

/// The core User schema.
pub static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRS,
};

/// The core Group schema.
pub static GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRS,
};

/// The Enterprise User extension.
pub static ENTERPRISE: SchemaDef = SchemaDef {
    id: ENTERPRISE_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRS,
};

/// The Custos User extension.
pub static CUSTOS: SchemaDef = SchemaDef {
    id: CUSTOS_SCHEMA,
    name: "CustosPrincipal",
    description: "Custos principal attributes: kind, supplier and region",
    attributes: CUSTOS_ATTRS,
};

/// The two resource types (RFC 7643 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl ResourceKind {
    /// The resource type name: `User` or `Group`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint, relative to the SCIM base: `/Users` or `/Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    /// The core schema.
    pub fn schema(self) -> &'static SchemaDef {
        match self {
            ResourceKind::User => &USER,
            ResourceKind::Group => &GROUP,
        }
    }

    /// The extension schemas.
    pub fn extensions(self) -> &'static [&'static SchemaDef] {
        static USER_EXTENSIONS: [&SchemaDef; 2] = [&ENTERPRISE, &CUSTOS];
        match self {
            ResourceKind::User => &USER_EXTENSIONS,
            ResourceKind::Group => &[],
        }
    }

    /// The extension whose URN is `urn` (case-insensitive).
    pub fn extension(self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions()
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The attribute that must be unique (case-insensitively):
    /// `userName` or `displayName`.
    pub fn unique_attr(self) -> &'static str {
        match self {
            ResourceKind::User => "userName",
            ResourceKind::Group => "displayName",
        }
    }
}

/// Where an attribute lives in a resource's JSON.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resolved {
    /// `None`: top level; `Some(urn)`: inside the extension object `urn`.
    pub ext: Option<&'static str>,
    /// The attribute.
    pub attr: &'static AttrDef,
}

/// Resolves `[urn:]name` for `kind`. Without URN, core and common
/// attributes come first, then an attribute of exactly one extension.
pub(crate) fn resolve(kind: ResourceKind, urn: Option<&str>, name: &str) -> Option<Resolved> {
    let core = || {
        kind.schema()
            .attr(name)
            .or_else(|| {
                COMMON_ATTRS
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(name))
            })
            .map(|attr| Resolved { ext: None, attr })
    };
    match urn {
        Some(urn) if urn.eq_ignore_ascii_case(kind.schema().id) => core(),
        Some(urn) => {
            let ext = kind.extension(urn)?;
            ext.attr(name).map(|attr| Resolved {
                ext: Some(ext.id),
                attr,
            })
        }
        None => core().or_else(|| {
            let mut found = kind.extensions().iter().filter_map(|s| {
                s.attr(name).map(|attr| Resolved {
                    ext: Some(s.id),
                    attr,
                })
            });
            let first = found.next();
            if found.next().is_some() { None } else { first }
        }),
    }
}

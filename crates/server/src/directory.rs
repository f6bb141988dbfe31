//! Who may hold a token: the in-memory directory introspection asks
//! ([`token::Subjects`] must answer from memory), kept in step with the
//! metadata database.
//!
//! - Staff, services and supplier staff: SCIM Users by `userName`
//!   (case-insensitive, as SCIM's uniqueness is), with their kind,
//!   department, region, supplier and Group memberships (for grants),
//!   reloaded from the database after every SCIM write. `active=false` and
//!   a deleted User are offboarded. Offboarding by an administrator
//!   (`POST /v1/principals/{id}/offboard`) is kept as an `offboarded` row of
//!   the `subject` table, which overrides an `active` SCIM User until the
//!   identity provider reactivates it.
//! - Customers: the `subject` table, written by the customer identity
//!   system through `POST /v1/subjects`. Kept as a map from a keyed 64-bit
//!   hash of the id (SipHash-1-3 with a per-process random key, std's
//!   `RandomState`) to the status: 16 bytes a customer instead of the id
//!   string, so 34M customers fit in ~1 GiB. Two ids share a hash with
//!   probability ~n/2^64 per lookup (≈2·10⁻¹² at 34M); such a collision could
//!   only make an unknown id look known, and introspection still requires
//!   the token to have been issued to exactly that subject.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::RwLock;

use access::{Principal, PrincipalKind, PrincipalStatus};
use store::{DirectoryUser, SqliteDirectoryStore};
use token::{StoreError, SubjectStatus, Subjects};

/// A SCIM User: its `active` flag and its principal view.
struct Staff {
    active: bool,
    principal: Principal,
}

fn staff_of(u: DirectoryUser) -> Staff {
    let kind = match u.kind.as_deref() {
        Some("service") => PrincipalKind::Service,
        Some("supplier_staff") => PrincipalKind::SupplierStaff,
        _ => PrincipalKind::Employee,
    };
    Staff {
        active: u.active,
        principal: Principal {
            id: u.user_name,
            kind,
            status: if u.active {
                PrincipalStatus::Active
            } else {
                PrincipalStatus::Offboarded
            },
            groups: u.groups,
            department: u.department,
            roles: Vec::new(),
            region: u.region,
            supplier: u.supplier,
        },
    }
}

fn load_staff(store: &SqliteDirectoryStore) -> Result<HashMap<String, Staff>, StoreError> {
    Ok(store
        .users()?
        .into_iter()
        .filter(|u| !u.user_name.is_empty())
        .map(|u| (u.user_name.to_lowercase(), staff_of(u)))
        .collect())
}

/// The in-memory directory.
pub(crate) struct Directory {
    staff: RwLock<HashMap<String, Staff>>,
    customers: RwLock<HashMap<u64, SubjectStatus>>,
    hasher: std::collections::hash_map::RandomState,
    store: SqliteDirectoryStore,
}

impl Directory {
    /// Loads the SCIM Users and customers from the database.
    pub(crate) fn load(store: SqliteDirectoryStore) -> Result<Directory, StoreError> {
        let staff = load_staff(&store)?;
        let hasher = std::collections::hash_map::RandomState::new();
        let mut customers = HashMap::new();
        store.subjects(|id, status| {
            customers.insert(hasher.hash_one(id), status);
        })?;
        Ok(Directory {
            staff: RwLock::new(staff),
            customers: RwLock::new(customers),
            hasher,
            store,
        })
    }

    /// Re-reads the SCIM Users and Groups (after a SCIM write).
    pub(crate) fn reload_staff(&self) -> Result<(), StoreError> {
        let staff = load_staff(&self.store)?;
        *self
            .staff
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = staff;
        Ok(())
    }

    /// Whether `principal` is a SCIM User (any status).
    pub(crate) fn is_staff(&self, principal: &str) -> bool {
        let staff = self
            .staff
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        staff.contains_key(principal) || staff.contains_key(&principal.to_lowercase())
    }

    /// The principal view of a SCIM User, with its effective status.
    pub(crate) fn principal(&self, id: &str) -> Option<Principal> {
        let mut p = {
            let staff = self
                .staff
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            staff
                .get(id)
                .or_else(|| staff.get(&id.to_lowercase()))?
                .principal
                .clone()
        };
        p.status = match self.status(id) {
            SubjectStatus::Active => PrincipalStatus::Active,
            SubjectStatus::Suspended => PrincipalStatus::Suspended,
            SubjectStatus::Offboarded | SubjectStatus::Unknown => PrincipalStatus::Offboarded,
        };
        Some(p)
    }

    /// Offboards a principal in the directory (durably): it stays
    /// offboarded, whatever its SCIM User says, until [`Directory::clear_lock`].
    pub(crate) fn mark_offboarded(&self, principal: &str, at_ms: u64) -> Result<(), StoreError> {
        self.put_customers(&[(principal.to_owned(), SubjectStatus::Offboarded)], at_ms)
            .map(|_| ())
    }

    /// Removes an administrator's offboarding of `principal` (the identity
    /// provider reactivated it).
    pub(crate) fn clear_lock(&self, principal: &str, at_ms: u64) -> Result<(), StoreError> {
        self.put_customers(&[(principal.to_owned(), SubjectStatus::Unknown)], at_ms)
            .map(|_| ())
    }

    /// Sets customers' statuses: durable in the database first, then in
    /// memory.
    pub(crate) fn put_customers(
        &self,
        subjects: &[(String, SubjectStatus)],
        at_ms: u64,
    ) -> Result<usize, StoreError> {
        let n = self.store.put_subjects(subjects, at_ms)?;
        let mut customers = self
            .customers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, status) in subjects {
            let h = self.hasher.hash_one(id.as_str());
            match status {
                SubjectStatus::Unknown => customers.remove(&h),
                s => customers.insert(h, *s),
            };
        }
        Ok(n)
    }

    /// Counts: (staff, customers).
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (
            self.staff
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .len(),
            self.customers
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .len(),
        )
    }
}

impl Subjects for Directory {
    fn status(&self, sub: &str) -> SubjectStatus {
        let scim_active = {
            let staff = self
                .staff
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // SCIM userNames are case-insensitive; most ids are lower case
            // already, so try the id as given before allocating.
            match staff.get(sub) {
                Some(s) => Some(s.active),
                None if sub.bytes().any(|b| b.is_ascii_uppercase()) || !sub.is_ascii() => {
                    staff.get(&sub.to_lowercase()).map(|s| s.active)
                }
                None => None,
            }
        };
        let row = self
            .customers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&self.hasher.hash_one(sub))
            .copied();
        match (scim_active, row) {
            (Some(false), _) => SubjectStatus::Offboarded,
            (Some(true), Some(s @ (SubjectStatus::Offboarded | SubjectStatus::Suspended))) => s,
            (Some(true), _) => SubjectStatus::Active,
            (None, Some(s)) => s,
            (None, None) => SubjectStatus::Unknown,
        }
    }
}

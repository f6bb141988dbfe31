//! The company: principals (employees in departments with roles, supplier
//! staff, services), suppliers, signing keys, and customers derived from
//! their number. Built once from a [`Config`]; everything is a pure function
//! of the configuration.

use events::ActorKind;
use serde::Serialize;

use crate::config::{Config, ConfigError};
use crate::episodes::{self, Episode, Plan};
use crate::perm::Perm;
use crate::rng::{SplitMix64, hash, unit};
use crate::time::DAY_MS;

/// Stream tags for [`hash`]: each derived property has its own, so adding
/// one never shifts another.
pub(crate) mod tag {
    pub const CUSTOMER_COUNTRY: u64 = 1;
    pub const CUSTOMER_HOME: u64 = 2;
    pub const JTI_TAG: u64 = 3;
    pub const PERM_ACTIVE: u64 = 4;
    pub const PERM_ATTACK: u64 = 5;
    pub const PERM_BULK: u64 = 6;
    pub const PERM_EMPLOYEES: u64 = 7;
    pub const DEPARTED: u64 = 9;
    pub const RUN_ID: u64 = 10;
}

/// The principal behind an event: a customer (by number) or one of the
/// company's principals (by index into [`World::principals`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActorRef {
    /// Customer `cust-NNNNNNNN` (numbers at or above [`Config::customers`]
    /// are ids that do not exist, used by the attacker's enumeration).
    Customer(u64),
    /// A principal of the directory.
    Principal(u32),
}

/// One of the company's principals (not a customer).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Principal {
    /// Stable id: `emp-004217`, `sst-02-00117` (supplier staff),
    /// `svc-fulfilment-wave`.
    pub id: String,
    /// Employee, supplier staff or service.
    pub kind: ActorKind,
    /// Department (employees) or supplier's line of work.
    pub department: &'static str,
    /// Role within it.
    pub role: &'static str,
    /// Country the principal works from (ISO 3166-1 alpha-2).
    pub country: &'static str,
    /// Site or region: office, fulfilment centre, cloud region.
    pub site: &'static str,
    /// The supplier, for supplier staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// When the principal was offboarded (ms since the epoch), if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offboarded_ms: Option<i64>,
}

/// A supplier (vendor) whose staff access customer data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Supplier {
    /// Stable id, `sup-01` ….
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the supplier does for the company.
    pub line: &'static str,
    /// Country its staff work from.
    pub country: &'static str,
    /// Number of its staff with access.
    pub staff: u32,
}

/// A token-signing key: its `kid`, its issuer, what it signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SigningKey {
    /// JWS key id.
    pub kid: &'static str,
    /// JWT issuer of the tokens it signs.
    pub issuer: &'static str,
    /// Whose tokens it signs.
    pub signs: &'static str,
    /// When it was created (it was never rotated).
    pub created: &'static str,
}

/// The signing keys, by index. The customer key is the one the departed
/// engineer kept: legitimate customer tokens and forged ones carry the same
/// `kid` and issuer.
pub const KEYS: [SigningKey; 4] = [
    SigningKey {
        kid: "cust-2019-03",
        issuer: "https://auth.market.example",
        signs: "customer access tokens (customer gateway, apps)",
        created: "2019-03-04",
    },
    SigningKey {
        kid: "sso-2025-05",
        issuer: "https://sso.market.example",
        signs: "workforce tokens (employees)",
        created: "2025-05-01",
    },
    SigningKey {
        kid: "partner-2025-02",
        issuer: "https://partners.market.example",
        signs: "supplier staff tokens",
        created: "2025-02-01",
    },
    SigningKey {
        kid: "svid-2025-06",
        issuer: "spiffe://market.example",
        signs: "workload tokens (JWT-SVID) of services and batch jobs",
        created: "2025-06-01",
    },
];

/// Index of the customer-token key in [`KEYS`].
pub(crate) const KEY_CUSTOMER: u8 = 0;
/// The customer-token key.
const CUSTOMER_KEY: SigningKey = KEYS[0];
/// Index of the workforce key.
pub(crate) const KEY_WORKFORCE: u8 = 1;
/// Index of the supplier-staff key.
pub(crate) const KEY_PARTNER: u8 = 2;
/// Index of the workload key.
pub(crate) const KEY_WORKLOAD: u8 = 3;

/// A customer, derived from its number (nothing is stored per customer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Customer {
    /// The customer's number; its id is `cust-` and 8 or more digits.
    pub number: u64,
    /// Country of residence (ISO 3166-1 alpha-2): KR for ≈96.5%, then JP,
    /// TW, US, CN, SG, VN, TH.
    pub country: &'static str,
}

/// Customer countries: cumulative shares.
const CUSTOMER_COUNTRIES: [(&str, f64); 8] = [
    ("KR", 0.965),
    ("JP", 0.978),
    ("TW", 0.988),
    ("US", 0.993),
    ("CN", 0.996),
    ("SG", 0.998),
    ("VN", 0.999),
    ("TH", 1.0),
];

/// The id of customer `n`: `cust-00012345`.
#[must_use]
pub fn customer_id(n: u64) -> String {
    format!("cust-{n:08}")
}

/// Writes the id of customer `n` into `buf`, returning it.
pub(crate) fn customer_id_into(n: u64, buf: &mut [u8; 32]) -> &str {
    let mut digits = [b'0'; 20];
    let mut v = n;
    let mut len = 0;
    while len < 20 {
        if let Some(d) = digits.get_mut(19 - len) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        len += 1;
        if v == 0 && len >= 8 {
            break;
        }
    }
    let (head, tail) = buf.split_at_mut(5);
    head.copy_from_slice(b"cust-");
    let src = digits.get(20 - len..).unwrap_or_default();
    if let Some(dst) = tail.get_mut(..len) {
        dst.copy_from_slice(src);
    }
    std::str::from_utf8(buf.get(..5 + len).unwrap_or_default()).unwrap_or("cust-")
}

struct DeptDef {
    name: &'static str,
    share: f64,
    site: &'static str,
    roles: &'static [(&'static str, f64)],
}

const DEPARTMENTS: [DeptDef; 7] = [
    DeptDef {
        name: "customer-service",
        share: 0.40,
        site: "seoul-cs-center",
        roles: &[("agent", 0.92), ("team-lead", 0.08)],
    },
    DeptDef {
        name: "fulfilment-ops",
        share: 0.15,
        site: "incheon-fc",
        roles: &[("ops-analyst", 0.8), ("site-manager", 0.2)],
    },
    DeptDef {
        name: "engineering",
        share: 0.20,
        site: "seoul-hq",
        // First so that even a tiny company has one (the departed engineer).
        roles: &[
            ("auth-engineer", 0.1),
            ("backend-engineer", 0.7),
            ("sre", 0.2),
        ],
    },
    DeptDef {
        name: "marketing",
        share: 0.08,
        site: "seoul-hq",
        roles: &[("crm-analyst", 1.0)],
    },
    DeptDef {
        name: "payments",
        share: 0.07,
        site: "seoul-hq",
        roles: &[("payments-ops", 1.0)],
    },
    DeptDef {
        name: "trust-safety",
        share: 0.05,
        site: "seoul-hq",
        roles: &[("investigator", 1.0)],
    },
    DeptDef {
        name: "corporate",
        share: 0.05,
        site: "seoul-hq",
        roles: &[("hr", 0.5), ("finance", 0.5)],
    },
];

/// What a supplier does; suppliers cycle through these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    CustomerService,
    Delivery,
    Warehouse,
    Analytics,
    ItOps,
}

struct SupplierDef {
    name: &'static str,
    line: Line,
    what: &'static str,
    role: &'static str,
    country: &'static str,
    site: &'static str,
    staff_per_2000: u32,
}

const SUPPLIERS: [SupplierDef; 5] = [
    SupplierDef {
        name: "Callbridge BPO",
        line: Line::CustomerService,
        what: "outsourced-customer-service",
        role: "cs-agent",
        country: "PH",
        site: "manila-office",
        staff_per_2000: 60,
    },
    SupplierDef {
        name: "Swift Last Mile",
        line: Line::Delivery,
        what: "delivery-partner",
        role: "driver",
        country: "KR",
        site: "gyeonggi-hubs",
        staff_per_2000: 300,
    },
    SupplierDef {
        name: "Pack and Go 3PL",
        line: Line::Warehouse,
        what: "warehouse-operations",
        role: "packer",
        country: "KR",
        site: "daegu-fc",
        staff_per_2000: 80,
    },
    SupplierDef {
        name: "Insight Analytics",
        line: Line::Analytics,
        what: "marketing-analytics",
        role: "analyst",
        country: "IN",
        site: "bengaluru-office",
        staff_per_2000: 12,
    },
    SupplierDef {
        name: "Mekong IT Services",
        line: Line::ItOps,
        what: "it-operations",
        role: "ops-engineer",
        country: "VN",
        site: "hanoi-office",
        staff_per_2000: 15,
    },
];

/// The service principals, in this order.
pub(crate) const SERVICES: [(&str, &str, &str, &str); 6] = [
    // (id, role, country, site)
    ("svc-fulfilment-wave", "batch-job", "KR", "ap-northeast-2"),
    ("svc-address-resolver", "service", "KR", "ap-northeast-2"),
    ("svc-notifier", "service", "KR", "ap-northeast-2"),
    ("svc-campaign-export", "batch-job", "KR", "ap-northeast-2"),
    ("svc-billing-run", "batch-job", "KR", "ap-northeast-2"),
    ("svc-backup-verify", "batch-job", "SG", "ap-southeast-1"),
];
pub(crate) const SVC_WAVE: usize = 0;
pub(crate) const SVC_RESOLVER: usize = 1;
pub(crate) const SVC_NOTIFIER: usize = 2;
pub(crate) const SVC_CAMPAIGN: usize = 3;
pub(crate) const SVC_BILLING: usize = 4;
pub(crate) const SVC_BACKUP: usize = 5;

/// Indices of principals by what they do (what the event streams draw from).
#[derive(Clone, Debug, Default)]
pub(crate) struct Groups {
    pub cs_staff: Vec<u32>,
    pub fulfilment_ops: Vec<u32>,
    pub engineers: Vec<u32>,
    pub marketing: Vec<u32>,
    pub payments: Vec<u32>,
    pub trust_safety: Vec<u32>,
    pub bpo: Vec<u32>,
    pub drivers: Vec<u32>,
    pub packers: Vec<u32>,
    pub analysts: Vec<u32>,
    pub it_ops: Vec<u32>,
    pub services: Vec<u32>,
    /// Supplier number (0-based) of each supplier-staff principal, by
    /// principal index (0 for others).
    pub supplier_of: Vec<u32>,
    /// Position of each principal within its site (for its desk address).
    pub desk: Vec<u32>,
}

/// The departed engineer of the attack scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DepartedEngineer {
    /// Principal id.
    pub id: String,
    /// Department and role.
    pub department: &'static str,
    /// Role (`auth-engineer`: built the customer authentication system).
    pub role: &'static str,
    /// Offboarding time, ms since the epoch.
    pub departed_ms: i64,
    /// The key id he kept.
    pub kept_kid: &'static str,
}

/// Times of the attack scenario (ms since the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttackTimes {
    /// First probing day starts.
    pub probe_start_ms: i64,
    /// The mass attack starts (probing ends).
    pub start_ms: i64,
    /// The mass attack ends.
    pub end_ms: i64,
}

/// The simulated company. Holds the directory (a few thousand principals);
/// customers are derived on demand.
#[derive(Clone, Debug)]
pub struct World {
    pub(crate) config: Config,
    pub(crate) principals: Vec<Principal>,
    pub(crate) suppliers: Vec<Supplier>,
    pub(crate) groups: Groups,
    pub(crate) active: Perm,
    pub(crate) victims: Perm,
    pub(crate) bulk: Perm,
    pub(crate) jti_key: u64,
    pub(crate) run_id: String,
    pub(crate) departed: Option<(u32, i64)>,
    pub(crate) attack_times: Option<AttackTimes>,
    pub(crate) supplier_lines: Vec<Line>,
    pub(crate) episodes: Vec<Episode>,
    pub(crate) plans: Vec<Plan>,
    /// The forged-token attack's episode id (0 without the attack).
    pub(crate) forged_episode: u16,
}

impl World {
    /// Builds the company of `config` after validating it.
    pub fn new(config: Config) -> Result<World, ConfigError> {
        config.validate()?;
        let seed = config.seed;
        let mut principals = Vec::new();
        let mut groups = Groups::default();

        // Employees: departments by share (remainder to customer service),
        // roles by share within each; ids shuffled so that a department is
        // not a contiguous block of numbers.
        let total = config.employees;
        let mut sizes: Vec<u32> = DEPARTMENTS
            .iter()
            .map(|d| (f64::from(total) * d.share) as u32)
            .collect();
        let assigned: u32 = sizes.iter().sum();
        if let Some(first) = sizes.first_mut() {
            *first += total - assigned;
        }
        let id_perm = Perm::new(u64::from(total), hash(seed, tag::PERM_EMPLOYEES, 0, 0));
        let mut n = 0u64;
        for (dept, size) in DEPARTMENTS.iter().zip(sizes) {
            let mut role_left = size;
            for (ri, (role, share)) in dept.roles.iter().enumerate() {
                let count = if ri + 1 == dept.roles.len() {
                    role_left
                } else {
                    ((f64::from(size) * share).round() as u32)
                        .max(1)
                        .min(role_left)
                };
                role_left -= count;
                for j in 0..count {
                    let idx = principals.len() as u32;
                    let site = if dept.name == "fulfilment-ops" && j % 3 == 2 {
                        "daegu-fc"
                    } else {
                        dept.site
                    };
                    principals.push(Principal {
                        id: format!("emp-{:06}", id_perm.apply(n) + 1),
                        kind: ActorKind::Employee,
                        department: dept.name,
                        role,
                        country: "KR",
                        site,
                        supplier: None,
                        offboarded_ms: None,
                    });
                    n += 1;
                    let g = match dept.name {
                        "customer-service" => Some(&mut groups.cs_staff),
                        "fulfilment-ops" => Some(&mut groups.fulfilment_ops),
                        "engineering" => Some(&mut groups.engineers),
                        "marketing" => Some(&mut groups.marketing),
                        "payments" => Some(&mut groups.payments),
                        "trust-safety" => Some(&mut groups.trust_safety),
                        _ => None,
                    };
                    if let Some(g) = g {
                        g.push(idx);
                    }
                }
            }
        }

        // Suppliers and their staff.
        let mut suppliers = Vec::new();
        let mut supplier_lines = Vec::new();
        groups.supplier_of = vec![0; principals.len()];
        for s in 0..config.suppliers {
            let def = SUPPLIERS
                .get((s as usize) % SUPPLIERS.len())
                .unwrap_or(&SUPPLIERS[0]);
            let round = s as usize / SUPPLIERS.len();
            let staff = ((u64::from(def.staff_per_2000) * u64::from(total)) / 2000).max(2) as u32;
            let sid = format!("sup-{:02}", s + 1);
            suppliers.push(Supplier {
                id: sid.clone(),
                name: if round == 0 {
                    def.name.to_owned()
                } else {
                    format!("{} {}", def.name, round + 1)
                },
                line: def.what,
                country: def.country,
                staff,
            });
            supplier_lines.push(def.line);
            for j in 0..staff {
                let idx = principals.len() as u32;
                principals.push(Principal {
                    id: format!("sst-{:02}-{:05}", s + 1, j + 1),
                    kind: ActorKind::SupplierStaff,
                    department: def.what,
                    role: def.role,
                    country: def.country,
                    site: def.site,
                    supplier: Some(sid.clone()),
                    offboarded_ms: None,
                });
                groups.supplier_of.push(s);
                let g = match def.line {
                    Line::CustomerService => &mut groups.bpo,
                    Line::Delivery => &mut groups.drivers,
                    Line::Warehouse => &mut groups.packers,
                    Line::Analytics => &mut groups.analysts,
                    Line::ItOps => &mut groups.it_ops,
                };
                g.push(idx);
            }
        }

        // Services.
        for (id, role, country, site) in SERVICES {
            groups.services.push(principals.len() as u32);
            groups.supplier_of.push(0);
            principals.push(Principal {
                id: id.to_owned(),
                kind: ActorKind::Service,
                department: "platform",
                role,
                country,
                site,
                supplier: None,
                offboarded_ms: None,
            });
        }

        // Desk numbers: position within the principal's site.
        let mut per_site: std::collections::BTreeMap<&str, u32> = Default::default();
        groups.desk = principals
            .iter()
            .map(|p| {
                let c = per_site.entry(p.site).or_insert(0);
                *c += 1;
                *c - 1
            })
            .collect();

        // The attack: the departed engineer is one of the auth engineers.
        let mut departed = None;
        let attack_times = config.attack.as_ref().map(|a| {
            let start_ms = config.start_ms + a.start_offset_hours * 3_600_000;
            AttackTimes {
                probe_start_ms: start_ms - i64::from(a.probe_lead_days) * DAY_MS,
                start_ms,
                end_ms: start_ms + i64::from(a.days) * DAY_MS,
            }
        });
        if let (Some(a), Some(t)) = (&config.attack, attack_times) {
            let auth: Vec<u32> = groups
                .engineers
                .iter()
                .copied()
                .filter(|&i| {
                    principals
                        .get(i as usize)
                        .is_some_and(|p| p.role == "auth-engineer")
                })
                .collect();
            let mut rng = SplitMix64::new(hash(seed, tag::DEPARTED, 0, 0));
            if let Some(&who) = auth.get(rng.below(auth.len() as u64) as usize) {
                let at = t.start_ms - i64::from(a.departed_days_before) * DAY_MS
                    + rng.below(8 * 3_600_000) as i64
                    + 9 * 3_600_000;
                if let Some(p) = principals.get_mut(who as usize) {
                    p.offboarded_ms = Some(at);
                }
                departed = Some((who, at));
            }
        }

        // Episodes: the forged-token attack first, then the scenarios.
        let mut episodes = Vec::new();
        let mut forged_episode = 0;
        if let (Some(a), Some(t)) = (&config.attack, attack_times) {
            forged_episode = 1;
            let who = departed
                .and_then(|(i, _)| principals.get(i as usize))
                .map(|p| p.id.clone());
            episodes.push(Episode {
                id: 1,
                scenario: "forged_token",
                malicious: true,
                actors: who.into_iter().collect(),
                start_ms: t.start_ms,
                end_ms: t.end_ms,
                description: format!(
                    "the departed engineer's kept key {} mints one customer token per customer: \
                     {} customers a day at {} requests/s from {} ({} days of probing before)",
                    CUSTOMER_KEY.kid,
                    a.victims_per_day,
                    a.requests_per_second,
                    a.countries.join(", "),
                    a.probe_lead_days
                ),
            });
        }
        let (more, plans) = episodes::build(&config, &mut principals, &groups, forged_episode + 1)?;
        episodes.extend(more);

        Ok(World {
            episodes,
            plans,
            forged_episode,
            active: Perm::new(config.customers, hash(seed, tag::PERM_ACTIVE, 0, 0)),
            victims: Perm::new(config.customers, hash(seed, tag::PERM_ATTACK, 0, 0)),
            bulk: Perm::new(config.customers, hash(seed, tag::PERM_BULK, 0, 0)),
            jti_key: hash(seed, tag::JTI_TAG, 0, 0),
            run_id: format!("sim{:08x}", hash(seed, tag::RUN_ID, 0, 0) >> 32),
            config,
            principals,
            suppliers,
            groups,
            departed,
            attack_times,
            supplier_lines,
        })
    }

    /// The configuration (validated).
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every principal that is not a customer: employees, supplier staff,
    /// services, in a stable order.
    #[must_use]
    pub fn principals(&self) -> &[Principal] {
        &self.principals
    }

    /// The suppliers.
    #[must_use]
    pub fn suppliers(&self) -> &[Supplier] {
        &self.suppliers
    }

    /// The signing keys.
    #[must_use]
    pub fn keys(&self) -> &'static [SigningKey] {
        &KEYS
    }

    /// The customer-token key (the stolen one when the attack runs).
    #[must_use]
    pub fn customer_key(&self) -> SigningKey {
        CUSTOMER_KEY
    }

    /// Customer number `n` (`None` if `n` is not below the customer count).
    #[must_use]
    pub fn customer(&self, n: u64) -> Option<Customer> {
        (n < self.config.customers).then(|| Customer {
            number: n,
            country: self.customer_country(n),
        })
    }

    pub(crate) fn customer_country(&self, n: u64) -> &'static str {
        let u = unit(hash(self.config.seed, tag::CUSTOMER_COUNTRY, n, 0));
        CUSTOMER_COUNTRIES
            .iter()
            .find(|(_, cum)| u < *cum)
            .map_or("KR", |(c, _)| c)
    }

    /// The departed engineer, when the attack scenario runs.
    #[must_use]
    pub fn departed_engineer(&self) -> Option<DepartedEngineer> {
        let (i, at) = self.departed?;
        let p = self.principals.get(i as usize)?;
        Some(DepartedEngineer {
            id: p.id.clone(),
            department: p.department,
            role: p.role,
            departed_ms: at,
            kept_kid: CUSTOMER_KEY.kid,
        })
    }

    /// The episodes of the run: the forged-token attack (id 1) when
    /// configured, then one per [`Config::scenarios`] entry, in order.
    #[must_use]
    pub fn episodes(&self) -> &[Episode] {
        &self.episodes
    }

    /// The episode with id `id`.
    #[must_use]
    pub fn episode(&self, id: u16) -> Option<&Episode> {
        self.episodes.iter().find(|e| e.id == id)
    }

    /// The attack's probing and attack windows, when it runs.
    #[must_use]
    pub fn attack_times(&self) -> Option<AttackTimes> {
        self.attack_times
    }

    /// The customer number of the attack's `k`-th victim (victims of
    /// consecutive `k` are distinct until every customer has been read).
    #[must_use]
    pub fn attack_victim(&self, k: u64) -> u64 {
        self.victims.apply(k)
    }

    /// The prefix of event ids of this run (`sim1a2b3c4d`), derived from the
    /// seed so that two runs with different seeds do not share ids.
    #[must_use]
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The token-id check value of a legitimately issued token `id`.
    pub(crate) fn jti_tag(&self, key: u8, id: u64) -> u64 {
        hash(self.jti_key, tag::JTI_TAG, id, u64::from(key))
    }

    /// True if `jti` is the id of a token the company's token services
    /// really issued in this simulation (with the key `kid`). Legitimate
    /// token ids carry a keyed check value; forged ones do not (the chance
    /// of a forged id passing is 2⁻⁶⁴). This stands in for the issuance
    /// records a real token authority keeps (see also
    /// [`crate::Issuance`]).
    #[must_use]
    pub fn jti_issued(&self, jti: &str, kid: &str) -> bool {
        let Some(key) = KEYS.iter().position(|k| k.kid == kid) else {
            return false;
        };
        if jti.len() != 32 || !jti.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return false;
        }
        let (Some(id), Some(check)) = (jti.get(..16), jti.get(16..)) else {
            return false;
        };
        let (Ok(id), Ok(check)) = (u64::from_str_radix(id, 16), u64::from_str_radix(check, 16))
        else {
            return false;
        };
        self.jti_tag(key as u8, id) == check
    }

    /// Whether principal `i` is offboarded at time `t`.
    pub(crate) fn offboarded(&self, i: u32, t: i64) -> bool {
        self.principals
            .get(i as usize)
            .and_then(|p| p.offboarded_ms)
            .is_some_and(|at| at <= t)
    }

    pub(crate) fn supplier_line(&self, principal: u32) -> Option<Line> {
        let s = *self.groups.supplier_of.get(principal as usize)?;
        self.supplier_lines.get(s as usize).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_are_zero_padded() {
        let mut buf = [0u8; 32];
        assert_eq!(customer_id_into(12_345, &mut buf), "cust-00012345");
        assert_eq!(customer_id_into(0, &mut buf), "cust-00000000");
        assert_eq!(customer_id_into(1_234_567_890, &mut buf), "cust-1234567890");
        assert_eq!(
            customer_id_into(u64::MAX, &mut buf),
            format!("cust-{}", u64::MAX)
        );
        assert_eq!(customer_id(42), "cust-00000042");
    }

    #[test]
    fn directory_has_every_group() {
        let w = World::new(Config::default()).unwrap();
        let g = &w.groups;
        for (name, v) in [
            ("cs", &g.cs_staff),
            ("eng", &g.engineers),
            ("bpo", &g.bpo),
            ("drivers", &g.drivers),
            ("packers", &g.packers),
            ("analysts", &g.analysts),
            ("it", &g.it_ops),
        ] {
            assert!(!v.is_empty(), "{name}");
        }
        assert_eq!(
            w.principals
                .iter()
                .filter(|p| p.kind == ActorKind::Employee)
                .count(),
            2000
        );
        let ids: std::collections::HashSet<_> = w.principals.iter().map(|p| &p.id).collect();
        assert_eq!(ids.len(), w.principals.len());
        let d = w.departed_engineer().unwrap();
        assert_eq!(d.role, "auth-engineer");
        assert!(d.departed_ms < w.attack_times().unwrap().probe_start_ms);
    }
}

//! The schema, as an append-only list of migrations. Migration `i` (0-based)
//! brings `PRAGMA user_version` from `i` to `i + 1`. Never edit a released
//! step: add one.
//!
//! Integers are SQLite's signed 64-bit; the stores refuse (with an error,
//! never by wrapping) a `u64` above `i64::MAX`, which no second or
//! millisecond timestamp reaches.

/// `PRAGMA application_id` of a Custos metadata database: `"CUST"` in
/// ASCII. Marks the file as ours (<https://www.sqlite.org/pragma.html#pragma_application_id>).
pub const APPLICATION_ID: i64 = 0x4355_5354;

/// The schema version this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 6;

/// The migrations, oldest first; `MIGRATIONS.len() == SCHEMA_VERSION`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: token issuance and revocation feeds, SCIM resources.
    "
    -- Issuance records (token::IssuanceStore). seq is the feed position:
    -- AUTOINCREMENT so that a seq is never reused, even after prune
    -- deleted the newest rows (https://www.sqlite.org/autoinc.html).
    CREATE TABLE issuance (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        jti       TEXT    NOT NULL UNIQUE,
        kid       TEXT    NOT NULL,
        sub       TEXT    NOT NULL,
        iat       INTEGER NOT NULL CHECK (iat >= 0),
        exp       INTEGER NOT NULL CHECK (exp >= 0),
        aud       TEXT    NOT NULL CHECK (json_valid(aud) AND json_type(aud) = 'array'),
        client_id TEXT
    ) STRICT;
    CREATE INDEX issuance_exp ON issuance (exp);

    -- Revocations (token::RevocationStore): an append-only feed.
    CREATE TABLE revocation (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms        INTEGER NOT NULL CHECK (at_ms >= 0),
        kind         TEXT    NOT NULL CHECK (kind IN ('token', 'subject')),
        jti          TEXT,
        sub          TEXT    NOT NULL,
        exp          INTEGER CHECK (exp >= 0),
        issued_until INTEGER CHECK (issued_until >= 0),
        reason       TEXT    NOT NULL
                     CHECK (reason IN ('requested', 'offboarded', 'suspended')),
        CHECK ((kind = 'token' AND jti IS NOT NULL AND exp IS NOT NULL
                    AND issued_until IS NULL)
            OR (kind = 'subject' AND jti IS NULL AND exp IS NULL
                    AND issued_until IS NOT NULL))
    ) STRICT;
    -- token(jti): the first revocation of the token.
    CREATE INDEX revocation_token ON revocation (jti, seq) WHERE kind = 'token';
    -- subject(sub): the widest subject-wide revocation, the first on ties.
    CREATE INDEX revocation_subject ON revocation (sub, issued_until DESC, seq)
        WHERE kind = 'subject';

    -- SCIM resources (scim::ScimStore). seq is creation order (unsorted
    -- lists and sort ties); a replace keeps it.
    CREATE TABLE scim_resource (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT    NOT NULL CHECK (kind IN ('User', 'Group')),
        id         TEXT    NOT NULL,
        version    INTEGER NOT NULL CHECK (version >= 1),
        -- userName / displayName after Unicode lower-casing
        -- (scim::unique_key); NULL when absent.
        unique_key TEXT,
        -- The canonical body, with id and meta.version, as JSON text.
        body       TEXT    NOT NULL CHECK (json_valid(body)),
        UNIQUE (kind, id)
    ) STRICT;
    CREATE UNIQUE INDEX scim_resource_unique ON scim_resource (kind, unique_key)
        WHERE unique_key IS NOT NULL;
    ",
    // 2: access grants (access::GrantStore).
    "
    -- The grant whole, as access::Grant JSON, plus the columns queries
    -- need (the server lists by holder and by state; the JSON is the
    -- truth, the columns are derived from it on every put).
    CREATE TABLE access_grant (
        id           TEXT    NOT NULL PRIMARY KEY,
        holder_kind  TEXT    NOT NULL CHECK (holder_kind IN ('principal', 'group')),
        holder       TEXT    NOT NULL,
        dataset      TEXT    NOT NULL,
        valid_from   INTEGER NOT NULL,
        valid_until  INTEGER NOT NULL CHECK (valid_until > valid_from),
        approved     INTEGER NOT NULL CHECK (approved IN (0, 1)),
        revoked      INTEGER NOT NULL CHECK (revoked IN (0, 1)),
        body         TEXT    NOT NULL CHECK (json_valid(body))
    ) STRICT;
    CREATE INDEX access_grant_holder ON access_grant (holder_kind, holder);
    CREATE INDEX access_grant_until ON access_grant (valid_until);
    ",
    // 3: the customer directory (token subjects that are not SCIM Users).
    "
    -- Customers known to the customer identity system, with their status;
    -- a token subject in neither this table nor scim_resource is unknown.
    CREATE TABLE subject (
        id         TEXT    PRIMARY KEY,
        status     TEXT    NOT NULL CHECK (status IN ('active', 'suspended', 'offboarded')),
        updated_ms INTEGER NOT NULL CHECK (updated_ms >= 0)
    ) STRICT, WITHOUT ROWID;
    ",
    // 4: alerts, suppressions and the webhook outbox (detect::AlertStore).
    "
    -- Alerts: the alert as JSON, with indexed columns derived from it.
    CREATE TABLE alert (
        id        TEXT    PRIMARY KEY,
        dedup     TEXT    NOT NULL,
        status    TEXT    NOT NULL
                  CHECK (status IN ('open', 'acknowledged', 'closed', 'suppressed')),
        opened_ms INTEGER NOT NULL,
        body      TEXT    NOT NULL CHECK (json_valid(body))
    ) STRICT;
    CREATE INDEX alert_dedup ON alert (dedup, opened_ms);
    CREATE INDEX alert_opened ON alert (opened_ms, id);

    CREATE TABLE alert_suppression (
        id         TEXT    PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        body       TEXT    NOT NULL CHECK (json_valid(body))
    ) STRICT;

    -- Webhook deliveries not yet done (and those given up, for the record).
    CREATE TABLE webhook_outbox (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        hook         TEXT    NOT NULL,
        alert        TEXT    NOT NULL,
        payload      TEXT    NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_ms      INTEGER NOT NULL,
        state        TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'failed')),
        last_error   TEXT,
        done_ms      INTEGER
    ) STRICT;
    CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_ms);
    ",
    // 5: incidents and legal holds (preservation orders).
    "
    -- Incidents: the incident as JSON (crates/incident), with indexed columns.
    CREATE TABLE incident (
        id         TEXT    PRIMARY KEY,
        status     TEXT    NOT NULL,
        opened_ms  INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        body       TEXT    NOT NULL CHECK (json_valid(body))
    ) STRICT;
    -- Legal holds: never deleted; lifting one sets active = 0.
    CREATE TABLE legal_hold (
        id        TEXT    PRIMARY KEY,
        active    INTEGER NOT NULL CHECK (active IN (0, 1)),
        placed_ms INTEGER NOT NULL,
        body      TEXT    NOT NULL CHECK (json_valid(body))
    ) STRICT;
    CREATE TRIGGER legal_hold_never_deleted BEFORE DELETE ON legal_hold
    BEGIN SELECT RAISE(ABORT, 'legal holds are never deleted; lift them'); END;
    CREATE TRIGGER legal_hold_never_reactivated BEFORE UPDATE OF active ON legal_hold
    WHEN OLD.active = 0 AND NEW.active = 1
    BEGIN SELECT RAISE(ABORT, 'a lifted hold stays lifted; place a new one'); END;
    ",
    // 6: governance: remediation findings and supplier assessment snapshots.
    "
    -- Remediation findings: the finding as JSON (crates/govern), with the
    -- columns queries need; escalated is the highest escalation level
    -- already announced (none, owner, manager, executive).
    CREATE TABLE govern_finding (
        id         TEXT    PRIMARY KEY,
        status     TEXT    NOT NULL
                   CHECK (status IN ('open', 'in_progress', 'risk_accepted', 'resolved')),
        supplier   TEXT,
        owner      TEXT    NOT NULL,
        severity   TEXT    NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
        created_s  INTEGER NOT NULL,
        due_s      INTEGER NOT NULL,
        escalated  TEXT    NOT NULL DEFAULT 'none'
                   CHECK (escalated IN ('none', 'owner', 'manager', 'executive')),
        body       TEXT    NOT NULL CHECK (json_valid(body))
    ) STRICT;
    CREATE INDEX govern_finding_supplier ON govern_finding (supplier, created_s);
    CREATE INDEX govern_finding_due ON govern_finding (status, due_s);

    -- Supplier assessment snapshots: the score's history. Append-only.
    CREATE TABLE govern_assessment (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        supplier  TEXT    NOT NULL,
        at_s      INTEGER NOT NULL,
        score     INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
        tier      TEXT    NOT NULL CHECK (tier IN ('low', 'moderate', 'high', 'critical')),
        ledger_index INTEGER,
        body      TEXT    NOT NULL CHECK (json_valid(body))
    ) STRICT;
    CREATE INDEX govern_assessment_supplier ON govern_assessment (supplier, seq);
    CREATE TRIGGER govern_assessment_append_only BEFORE UPDATE ON govern_assessment
    BEGIN SELECT RAISE(ABORT, 'assessment snapshots are history; record a new one'); END;
    ",
];

-- The pipeline's tables on PostgreSQL: the same tables as migrations/sqlite (read that file for what each
-- column holds), with PostgreSQL's types (timestamptz, bytea, identity columns) and the columns several
-- instances need to share the work (claims with an expiry on the inbox and on ready handoffs).
-- JSON values are kept as text, as on SQLite: the store hands them back exactly as the stages wrote them.

-- Ingest: raw events exactly as they arrived, committed before the vendor gets its 2xx. One table for all
-- instances (PostgreSQL has real concurrency: no file of its own is needed).
CREATE TABLE inbox (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector_id  TEXT NOT NULL,
    source        TEXT NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL,
    query         TEXT NOT NULL DEFAULT '',
    headers       TEXT NOT NULL DEFAULT '{}',
    body          BYTEA NOT NULL
);

-- Which inbox rows are normalised (or quarantined), written in the same transaction as their effects.
CREATE TABLE inbox_processed (
    inbox_id      BIGINT PRIMARY KEY,
    processed_at  TIMESTAMPTZ NOT NULL
);

-- Which instance is normalising an inbox row, until when: a crashed instance's claims expire and another
-- instance takes the rows.
CREATE TABLE inbox_claims (
    inbox_id      BIGINT PRIMARY KEY,
    claimed_by    TEXT NOT NULL,
    claimed_until TIMESTAMPTZ NOT NULL
);

CREATE TABLE quarantine (
    id            BIGINT PRIMARY KEY,
    inbox_id      BIGINT NOT NULL,
    connector_id  TEXT NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL,
    reason        TEXT NOT NULL,
    body          BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE customers (
    id            TEXT PRIMARY KEY,
    -- The customer's number (SQLite's rowid): what `identity::MergeRecord` names customers by.
    number        BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    display_name  TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    merged_into   TEXT
);

CREATE TABLE identities (
    match_key     TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    raw           TEXT NOT NULL,
    connector_id  TEXT NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX identities_customer ON identities (customer_id);

CREATE TABLE merges (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survivor_id   TEXT NOT NULL,
    absorbed_id   TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    record        TEXT,
    merged_at     TIMESTAMPTZ NOT NULL,
    undone_at     TIMESTAMPTZ
);

CREATE TABLE merge_moves (
    merge_id      BIGINT NOT NULL REFERENCES merges (id),
    kind          TEXT NOT NULL,
    row_ref       TEXT NOT NULL
);
CREATE INDEX merge_moves_merge ON merge_moves (merge_id);

CREATE TABLE identity_conflicts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customers     TEXT NOT NULL UNIQUE,
    attach_to     TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    times_seen    BIGINT NOT NULL DEFAULT 1,
    resolved_at   TIMESTAMPTZ
);

CREATE TABLE crm_contacts (
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    crm_id        TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, crm_id)
);

CREATE TABLE handoffs (
    id                TEXT PRIMARY KEY,
    customer_id       TEXT NOT NULL REFERENCES customers (id),
    state             TEXT NOT NULL,
    opened_at         TIMESTAMPTZ NOT NULL,
    last_activity_at  TIMESTAMPTZ NOT NULL,
    ready_at          TIMESTAMPTZ NOT NULL,
    ended_by          TEXT,
    brief             TEXT,
    version           BIGINT NOT NULL DEFAULT 0,
    crm_id            TEXT,
    crm_task_id       TEXT,
    closed_at         TIMESTAMPTZ,
    -- Which instance is making this handoff's brief, until when (see inbox_claims).
    claimed_by        TEXT,
    claimed_until     TIMESTAMPTZ
);
CREATE INDEX handoffs_ready ON handoffs (ready_at) WHERE state = 'collecting';
CREATE INDEX handoffs_customer ON handoffs (customer_id, state);

CREATE TABLE interactions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector_id  TEXT NOT NULL,
    dedup_key     TEXT NOT NULL,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    handoff_id    TEXT REFERENCES handoffs (id),
    channel       TEXT NOT NULL,
    direction     TEXT NOT NULL,
    speaker       TEXT,
    at            TIMESTAMPTZ NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL,
    kind          TEXT NOT NULL,
    text          TEXT,
    content       TEXT NOT NULL,
    inbox_id      BIGINT,
    UNIQUE (connector_id, dedup_key)
);
CREATE INDEX interactions_handoff ON interactions (handoff_id, at);
CREATE INDEX interactions_customer ON interactions (customer_id, at);

CREATE TABLE outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handoff_id       TEXT NOT NULL UNIQUE REFERENCES handoffs (id),
    crm_id           TEXT NOT NULL,
    payload          TEXT NOT NULL,
    version          BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    locked_until     TIMESTAMPTZ,
    locked_by        TEXT,
    in_flight        BOOLEAN NOT NULL DEFAULT FALSE,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX outbox_due ON outbox (crm_id, next_attempt_at);

CREATE TABLE dead_letters (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handoff_id    TEXT NOT NULL,
    crm_id        TEXT NOT NULL,
    payload       TEXT NOT NULL,
    version       BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    last_error    TEXT NOT NULL,
    failed_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE owner_rotation (
    pool          TEXT PRIMARY KEY,
    next_index    BIGINT NOT NULL
);

CREATE TABLE oauth_tokens (
    connector_id  TEXT PRIMARY KEY,
    token         TEXT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            TIMESTAMPTZ NOT NULL,
    handoff_id    TEXT,
    customer_id   TEXT,
    event         TEXT NOT NULL,
    detail        TEXT NOT NULL
);
CREATE INDEX audit_handoff ON audit (handoff_id);
CREATE INDEX audit_customer ON audit (customer_id);

CREATE TABLE crm_identities (
    crm_id        TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    name          TEXT,
    phones        TEXT NOT NULL DEFAULT '[]',
    emails        TEXT NOT NULL DEFAULT '[]',
    match_keys    TEXT NOT NULL DEFAULT '[]',
    owner_id      TEXT,
    updated_at    TIMESTAMPTZ,
    merged_into   TEXT,
    origin        TEXT NOT NULL,
    cached_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (crm_id, contact_id)
);

CREATE TABLE crm_identity_keys (
    crm_id        TEXT NOT NULL,
    match_key     TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    PRIMARY KEY (crm_id, match_key, contact_id)
);
CREATE INDEX crm_identity_keys_contact ON crm_identity_keys (crm_id, contact_id);
CREATE INDEX crm_identity_keys_key ON crm_identity_keys (match_key);

CREATE TABLE crm_sync_cursors (
    crm_id        TEXT PRIMARY KEY,
    cursor        TEXT,
    pages         BIGINT NOT NULL DEFAULT 0,
    synced_at     TIMESTAMPTZ NOT NULL
);

-- Named leases (`LeaseStore`): one holder at a time for a CRM account's delivery and for each scheduled job.
CREATE TABLE leases (
    name          TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    -- Until when the holder has it (its release time, once released).
    until         TIMESTAMPTZ NOT NULL
);

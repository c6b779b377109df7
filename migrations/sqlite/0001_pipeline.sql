-- The pipeline's tables, one per stage of DESIGN.md. Every arrow between stages is a committed row.
-- Times are RFC 3339 UTC text with a fixed width, so they sort and compare as text.

-- Ingest: raw events exactly as they arrived, committed before the vendor gets its 2xx.
CREATE TABLE inbox (
    id            INTEGER PRIMARY KEY,
    connector_id  TEXT NOT NULL,
    -- webhook | turn | proxied_send
    source        TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    -- Headers worth keeping for a replay (content type, vendor event ids); never credentials.
    headers       TEXT NOT NULL DEFAULT '{}',
    body          BLOB NOT NULL,
    processed_at  TEXT
);
CREATE INDEX inbox_unprocessed ON inbox (id) WHERE processed_at IS NULL;

-- Signed bodies that could not be parsed: kept for inspection, never retried by themselves.
CREATE TABLE quarantine (
    id            INTEGER PRIMARY KEY,
    inbox_id      INTEGER NOT NULL,
    connector_id  TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    reason        TEXT NOT NULL,
    body          BLOB NOT NULL,
    created_at    TEXT NOT NULL
);

-- Identity: a customer is the set of keys seen together.
CREATE TABLE customers (
    id            TEXT PRIMARY KEY,
    display_name  TEXT,
    created_at    TEXT NOT NULL,
    -- Set when this customer was merged into another (kept so a merge can be undone).
    merged_into   TEXT
);

CREATE TABLE identities (
    -- A match key, e.g. `phone:+919820012345`, `email:a@b.com`, `vendor:whatsapp:9198...`.
    match_key     TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    -- The key as the connector reported it.
    raw           TEXT NOT NULL,
    connector_id  TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
);
CREATE INDEX identities_customer ON identities (customer_id);

CREATE TABLE merges (
    id            INTEGER PRIMARY KEY,
    survivor_id   TEXT NOT NULL,
    absorbed_id   TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    merged_at     TEXT NOT NULL,
    undone_at     TEXT
);

-- The customer's contact in each CRM account.
CREATE TABLE crm_contacts (
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    crm_id        TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (customer_id, crm_id)
);

-- Conversations: a burst of interactions of one customer becomes one handoff.
CREATE TABLE handoffs (
    id                TEXT PRIMARY KEY,
    customer_id       TEXT NOT NULL REFERENCES customers (id),
    -- collecting: waiting for the quiet period | queued: brief made, task in the outbox |
    -- open: task in the CRM | closed: done, expired or nothing to act on | failed: dead-lettered
    state             TEXT NOT NULL,
    opened_at         TEXT NOT NULL,
    last_activity_at  TEXT NOT NULL,
    -- When the burst is over: last activity + quiet period, or now on an end signal.
    ready_at          TEXT NOT NULL,
    ended_by          TEXT,
    brief             TEXT,
    -- Bumped each time a new brief is made; the outbox delivers the latest.
    version           INTEGER NOT NULL DEFAULT 0,
    crm_id            TEXT,
    crm_task_id       TEXT,
    closed_at         TEXT
);
CREATE INDEX handoffs_ready ON handoffs (ready_at) WHERE state = 'collecting';
CREATE INDEX handoffs_customer ON handoffs (customer_id, state);

-- Interactions in canonical form, deduplicated per connector.
CREATE TABLE interactions (
    id            INTEGER PRIMARY KEY,
    connector_id  TEXT NOT NULL,
    dedup_key     TEXT NOT NULL,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    handoff_id    TEXT REFERENCES handoffs (id),
    channel       TEXT NOT NULL,
    direction     TEXT NOT NULL,
    -- customer | ai | agent for messages; NULL for statuses and system events
    speaker       TEXT,
    at            TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    text          TEXT,
    content       TEXT NOT NULL,
    inbox_id      INTEGER,
    UNIQUE (connector_id, dedup_key)
);
CREATE INDEX interactions_handoff ON interactions (handoff_id, at);
CREATE INDEX interactions_customer ON interactions (customer_id, at);

-- Deliver: one job per handoff, leased by a worker, retried with backoff.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    handoff_id       TEXT NOT NULL UNIQUE REFERENCES handoffs (id),
    crm_id           TEXT NOT NULL,
    -- The TaskWrite to deliver, and the handoff version it came from.
    payload          TEXT NOT NULL,
    version          INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    locked_until     TEXT,
    locked_by        TEXT,
    -- Set before a write is sent, cleared when its outcome is known: a job found with it set
    -- (lost response, crash) looks its task up by external key before writing again.
    in_flight        INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (crm_id, next_attempt_at);

CREATE TABLE dead_letters (
    id            INTEGER PRIMARY KEY,
    handoff_id    TEXT NOT NULL,
    crm_id        TEXT NOT NULL,
    payload       TEXT NOT NULL,
    version       INTEGER NOT NULL,
    attempts      INTEGER NOT NULL,
    last_error    TEXT NOT NULL,
    failed_at     TEXT NOT NULL
);

-- Round-robin position per owner pool.
CREATE TABLE owner_rotation (
    pool          TEXT PRIMARY KEY,
    next_index    INTEGER NOT NULL
);

-- OAuth tokens a connector refreshed.
CREATE TABLE oauth_tokens (
    connector_id  TEXT PRIMARY KEY,
    token         TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- Every decision: classified as X because Y, routed by rule R to O, task T created...
CREATE TABLE audit (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    handoff_id    TEXT,
    customer_id   TEXT,
    event         TEXT NOT NULL,
    detail        TEXT NOT NULL
);
CREATE INDEX audit_handoff ON audit (handoff_id);
CREATE INDEX audit_customer ON audit (customer_id);

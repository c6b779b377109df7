-- Identity reconciliation: undoable merges, conflicts an owner must decide, and the CRM identity cache.

-- The merge as `identity::MergeRecord` JSON (customer numbers are `customers.rowid`), so `identity split` can undo it.
ALTER TABLE merges ADD COLUMN record TEXT;

-- Rows a merge moved from the absorbed customer to the survivor: `interaction` (interactions.id) or `handoff`
-- (handoffs.id). A split moves exactly these back.
CREATE TABLE merge_moves (
    merge_id      INTEGER NOT NULL REFERENCES merges (id),
    kind          TEXT NOT NULL,
    row_ref       TEXT NOT NULL
);
CREATE INDEX merge_moves_merge ON merge_moves (merge_id);

-- Keys that linked customers which were not merged (different CRM contacts, or only an unreadable phone).
CREATE TABLE identity_conflicts (
    id            INTEGER PRIMARY KEY,
    -- The customers involved, sorted and comma-joined: one row per set, however often it recurs.
    customers     TEXT NOT NULL UNIQUE,
    -- Where the interactions went meanwhile.
    attach_to     TEXT NOT NULL,
    -- JSON [[match key, customer id], ...] of the interaction that last showed the conflict.
    evidence      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    times_seen    INTEGER NOT NULL DEFAULT 1,
    resolved_at   TEXT
);

-- The CRM identity cache: contacts synced from each CRM account, so steady-state delivery needs no search.
CREATE TABLE crm_identities (
    crm_id        TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    name          TEXT,
    -- JSON arrays: phones and emails as the CRM holds them, and the match keys they normalise to.
    phones        TEXT NOT NULL DEFAULT '[]',
    emails        TEXT NOT NULL DEFAULT '[]',
    match_keys    TEXT NOT NULL DEFAULT '[]',
    owner_id      TEXT,
    updated_at    TEXT,
    -- The survivor, when the CRM merged this contact into another.
    merged_into   TEXT,
    -- `sync`, `search` or `created` (by handoffd).
    origin        TEXT NOT NULL,
    cached_at     TEXT NOT NULL,
    PRIMARY KEY (crm_id, contact_id)
);

-- The cache's index: match key -> contact.
CREATE TABLE crm_identity_keys (
    crm_id        TEXT NOT NULL,
    match_key     TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    PRIMARY KEY (crm_id, match_key, contact_id)
);
CREATE INDEX crm_identity_keys_contact ON crm_identity_keys (crm_id, contact_id);
-- Which accounts know a key (the brief's notes look across accounts).
CREATE INDEX crm_identity_keys_key ON crm_identity_keys (match_key);

-- Where each CRM account's contact sync resumes; advanced in the transaction that stores a page.
CREATE TABLE crm_sync_cursors (
    crm_id        TEXT PRIMARY KEY,
    cursor        TEXT,
    pages         INTEGER NOT NULL DEFAULT 0,
    synced_at     TEXT NOT NULL
);

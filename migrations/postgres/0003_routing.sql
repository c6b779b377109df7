-- Routing: who each handoff went to (open handoffs per owner decide `least_open_tasks` and
-- capacity), and the CRM's owners as last synced (emails resolve to CRM ids through them).
CREATE TABLE handoff_owners (
    handoff_id    TEXT PRIMARY KEY REFERENCES handoffs (id),
    -- The CRM owner id the task was written with; NULL when it went out unassigned.
    owner_id      TEXT,
    pool          TEXT,
    assigned_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX handoff_owners_owner ON handoff_owners (owner_id);

CREATE TABLE crm_owners (
    crm_id        TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    email         TEXT,
    name          TEXT,
    active        BOOLEAN NOT NULL,
    synced_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (crm_id, owner_id)
);

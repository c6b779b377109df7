-- The SLA watcher (src/watch): each handoff's CRM task as it was last written, the escalation ladder's progress,
-- confirmations sent to customers, and customers who asked not to be messaged.

-- One row per handoff whose task is in the CRM, written with the task (in the delivery's transaction).
CREATE TABLE watched_tasks (
    handoff_id    TEXT PRIMARY KEY REFERENCES handoffs (id),
    customer_id   TEXT NOT NULL,
    crm_id        TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    -- The delivery payload last written (deliver::DeliveryPayload JSON): an escalation writes it again with a new
    -- owner, a higher priority or a note, so the task keeps everything else it says.
    payload       TEXT NOT NULL,
    written_at    TEXT NOT NULL,
    -- Steps of the ladder already run: they run in order, each once (a compare-and-set on this count).
    steps_done    INTEGER NOT NULL DEFAULT 0,
    -- When the CRM last answered for this task, and when it reported it completed.
    checked_at    TEXT,
    completed_at  TEXT
);
CREATE INDEX watched_tasks_pending ON watched_tasks (crm_id, handoff_id) WHERE completed_at IS NULL;

-- The customer's confirmation of one handoff: claimed before the send, so a customer never gets two.
CREATE TABLE confirmations (
    handoff_id    TEXT PRIMARY KEY REFERENCES handoffs (id),
    customer_id   TEXT NOT NULL,
    messenger_id  TEXT NOT NULL,
    -- sending (claimed: the send is under way, or its outcome was lost) | sent | skipped | refused
    state         TEXT NOT NULL,
    message_id    TEXT,
    detail        TEXT NOT NULL DEFAULT '',
    at            TEXT NOT NULL
);

-- Customers who asked not to be messaged (STOP); a later START removes the row.
CREATE TABLE opt_outs (
    customer_id     TEXT PRIMARY KEY REFERENCES customers (id),
    interaction_id  INTEGER,
    at              TEXT NOT NULL
);

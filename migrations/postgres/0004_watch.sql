-- The SLA watcher (src/watch): the same tables as migrations/sqlite/0007_watch.sql (read that file for what each
-- column holds), with PostgreSQL's types.

CREATE TABLE watched_tasks (
    handoff_id    TEXT PRIMARY KEY REFERENCES handoffs (id),
    customer_id   TEXT NOT NULL,
    crm_id        TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    payload       TEXT NOT NULL,
    written_at    TIMESTAMPTZ NOT NULL,
    steps_done    BIGINT NOT NULL DEFAULT 0,
    checked_at    TIMESTAMPTZ,
    completed_at  TIMESTAMPTZ
);
CREATE INDEX watched_tasks_pending ON watched_tasks (crm_id, handoff_id) WHERE completed_at IS NULL;

CREATE TABLE confirmations (
    handoff_id    TEXT PRIMARY KEY REFERENCES handoffs (id),
    customer_id   TEXT NOT NULL,
    messenger_id  TEXT NOT NULL,
    state         TEXT NOT NULL,
    message_id    TEXT,
    detail        TEXT NOT NULL DEFAULT '',
    at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE opt_outs (
    customer_id     TEXT PRIMARY KEY REFERENCES customers (id),
    interaction_id  BIGINT,
    at              TIMESTAMPTZ NOT NULL
);

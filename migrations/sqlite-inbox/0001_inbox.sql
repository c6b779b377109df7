-- The inbox has a database file of its own, next to the pipeline's: a webhook's group commit never waits
-- behind a transaction of the stages after it (SQLite has one writer per file). Append-only: which rows are
-- normalised is kept in the pipeline's file (inbox_processed), in the same transaction as their effects.

-- Raw events exactly as they arrived, committed before the vendor gets its 2xx.
-- AUTOINCREMENT: an id is never reused, since the pipeline's file refers to rows by id.
CREATE TABLE inbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_id  TEXT NOT NULL,
    -- webhook | turn | proxied_send
    source        TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    -- Headers worth keeping for a replay (content type, vendor event ids); never credentials.
    headers       TEXT NOT NULL DEFAULT '{}',
    body          BLOB NOT NULL
);

-- One row per poller (a connector with a poll source): where it resumes, and who may poll it now. A holder
-- claims the row for a lease; only the holder advances the cursor, and only after the page before it is
-- committed to the inbox, so exactly one instance polls each cursor and a crash replays a page, never skips.
CREATE TABLE poll_cursors (
    connector_id  TEXT PRIMARY KEY,
    cursor        TEXT,
    holder        TEXT,
    lease_until   TIMESTAMPTZ,
    -- When the cursor last moved, and when a poll last succeeded (the poller's lag is now minus this).
    advanced_at   TIMESTAMPTZ,
    polled_at     TIMESTAMPTZ
);

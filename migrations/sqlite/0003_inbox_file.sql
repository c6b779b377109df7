-- The raw events moved to a file of their own (migrations/sqlite-inbox): the store copied any rows of the
-- old table there before this runs. What stays here is which of them are normalised (or quarantined),
-- written in the same transaction as their effects.
CREATE TABLE inbox_processed (
    inbox_id      INTEGER PRIMARY KEY,
    processed_at  TEXT NOT NULL
);
INSERT INTO inbox_processed (inbox_id, processed_at) SELECT id, processed_at FROM main.inbox WHERE processed_at IS NOT NULL;
DROP TABLE main.inbox;

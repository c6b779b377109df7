-- The normalisers' queue: the inbox rows not yet normalised (nor quarantined), each with the claim an instance
-- holds on it. Finding the next rows used to be an anti-join of the whole inbox against inbox_processed, which
-- walked every row ever received (42 ms a claim at 30,000 rows, on every round of every instance); this table
-- holds only the rows still waiting, so a claim reads a few index pages however long the inbox grows. A row is
-- added in the group commit that stores its webhook and removed in the transaction that marks it processed.
-- inbox_processed stays the record of what was normalised, and when.
CREATE TABLE inbox_pending (
    inbox_id      BIGINT PRIMARY KEY,
    -- Which instance is normalising the row, until when: a killed instance's claims expire and another takes it.
    claimed_by    TEXT,
    claimed_until TIMESTAMPTZ
);

INSERT INTO inbox_pending (inbox_id, claimed_by, claimed_until)
SELECT i.id, c.claimed_by, c.claimed_until FROM inbox i LEFT JOIN inbox_claims c ON c.inbox_id = i.id
WHERE NOT EXISTS (SELECT 1 FROM inbox_processed p WHERE p.inbox_id = i.id);

-- Its claims moved to inbox_pending.
DROP TABLE inbox_claims;

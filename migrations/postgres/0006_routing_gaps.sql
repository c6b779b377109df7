-- The same changes as migrations/sqlite/0008_routing_gaps.sql (read that file for what each column holds).
CREATE INDEX audit_event_at ON audit (event, at);

ALTER TABLE handoff_owners ADD COLUMN confirm BOOLEAN;

ALTER TABLE watched_tasks ADD COLUMN escalated_owner_id TEXT;
ALTER TABLE watched_tasks ADD COLUMN escalated_pool TEXT;
ALTER TABLE watched_tasks ADD COLUMN escalated_priority TEXT;

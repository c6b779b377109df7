-- The backtest reads the audit by event and time (`routed` entries since a date).
CREATE INDEX audit_event_at ON audit (event, at);

-- The matched rule's `confirm` flag, kept with the handoff's routing so the SLA watcher decides the customer's
-- confirmation the same way after a restart or a reload: 1 confirm, 0 never, NULL the rule said nothing (or no
-- rule matched): `sla.confirm` decides.
ALTER TABLE handoff_owners ADD COLUMN confirm INTEGER;

-- What the SLA watcher changed on a task, kept so that a later brief's update of the same handoff does not undo
-- it: the owner (and pool) a `reassign` step moved it to, the priority a `remind` step raised it to.
ALTER TABLE watched_tasks ADD COLUMN escalated_owner_id TEXT;
ALTER TABLE watched_tasks ADD COLUMN escalated_pool TEXT;
ALTER TABLE watched_tasks ADD COLUMN escalated_priority TEXT;

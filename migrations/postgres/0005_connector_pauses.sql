-- Connectors an admin paused (a poller stops polling, the delivery CRM stops delivering), kept here so that a
-- pause survives a restart and every instance sharing the store honours it.
CREATE TABLE connector_pauses (
    connector_id  TEXT PRIMARY KEY,
    paused_at     TIMESTAMPTZ NOT NULL
);

-- Named leases (`LeaseStore`): which instance does work only one may do at a time. One SQLite instance holds
-- them all; the table exists so the stages are written once against the primitive, for PostgreSQL too.
CREATE TABLE leases (
    name          TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    -- Until when the holder has it (its release time, once released).
    until         TEXT NOT NULL
);

-- Flap detection and the per-adapter circuit breaker, kept in the same row (and so
-- the same transaction) as the verdict they belong to.
ALTER TABLE adapter_health ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
ALTER TABLE adapter_health ADD COLUMN recent_transitions TEXT NOT NULL DEFAULT '[]'; -- JSON array of ms
ALTER TABLE adapter_health ADD COLUMN breaker_state TEXT;                            -- closed, open, half-open, isolated
ALTER TABLE adapter_health ADD COLUMN breaker TEXT;                                  -- JSON from cockatiel toJSON()

-- Maintenance declared through the API (config windows live in the config file).
CREATE TABLE maintenance (
  adapter_id TEXT PRIMARY KEY,
  until      INTEGER,          -- ms; NULL: until lifted
  reason     TEXT NOT NULL,
  created_at INTEGER NOT NULL  -- ms
) STRICT;

-- Retention deletes by age; consumers resume by seq.
CREATE INDEX events_by_time ON events (time);

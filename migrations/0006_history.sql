-- Health history: per adapter and time bucket, how long it spent in each status
-- (maintenance counted as maintenance whatever the status), its checks and their
-- latency. Written with the states in the engine's transactions; see docs/history.md.
-- No index by bucket: retention deletes an adapter's old buckets through the primary
-- key, adapter by adapter, and an index by bucket would be a quarter of the bytes.

-- A small integer per adapter, so bucket rows do not repeat its id.
CREATE TABLE history_adapters (
  adapter_key INTEGER PRIMARY KEY,
  adapter_id  TEXT NOT NULL UNIQUE
) STRICT;

-- One-minute buckets (kept 48 h by default).
CREATE TABLE history_minute (
  adapter_key    INTEGER NOT NULL,
  bucket         INTEGER NOT NULL, -- the bucket's start, ms since the epoch
  healthy_ms     INTEGER NOT NULL,
  degraded_ms    INTEGER NOT NULL,
  unhealthy_ms   INTEGER NOT NULL,
  unknown_ms     INTEGER NOT NULL,
  maintenance_ms INTEGER NOT NULL,
  checks         INTEGER NOT NULL,
  failures       INTEGER NOT NULL,
  latency_bins   BLOB NOT NULL,    -- latencies binned (see src/domain/history.ts)
  PRIMARY KEY (adapter_key, bucket)
) STRICT, WITHOUT ROWID;

-- Hourly buckets (kept 90 days by default), with running totals per adapter so a
-- window of any length is two lookups.
CREATE TABLE history_hour (
  adapter_key            INTEGER NOT NULL,
  bucket                 INTEGER NOT NULL,
  healthy_ms             INTEGER NOT NULL,
  degraded_ms            INTEGER NOT NULL,
  unhealthy_ms           INTEGER NOT NULL,
  unknown_ms             INTEGER NOT NULL,
  maintenance_ms         INTEGER NOT NULL,
  checks                 INTEGER NOT NULL,
  failures               INTEGER NOT NULL,
  latency_bins           BLOB NOT NULL,
  through_healthy_ms     INTEGER NOT NULL, -- summed over this and every earlier hour bucket
  through_degraded_ms    INTEGER NOT NULL,
  through_unhealthy_ms   INTEGER NOT NULL,
  through_unknown_ms     INTEGER NOT NULL,
  through_maintenance_ms INTEGER NOT NULL,
  PRIMARY KEY (adapter_key, bucket)
) STRICT, WITHOUT ROWID;

-- The catalog of adapters as last synced from the registry.
CREATE TABLE adapters (
  adapter_id       TEXT PRIMARY KEY,
  project          TEXT NOT NULL,
  domain           TEXT NOT NULL,
  category         TEXT NOT NULL,
  provider         TEXT NOT NULL,
  capabilities     TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
  factory_path     TEXT NOT NULL DEFAULT '',
  health_check_url TEXT NOT NULL DEFAULT '',
  metadata         TEXT NOT NULL DEFAULT '{}', -- JSON object of strings
  registered_at    INTEGER NOT NULL DEFAULT 0, -- unix seconds, as the registry says
  last_heartbeat   INTEGER NOT NULL DEFAULT 0, -- unix seconds, as the registry says
  registry_status  TEXT NOT NULL DEFAULT 'unknown',
  first_seen       INTEGER NOT NULL,           -- ms since the epoch
  updated_at       INTEGER NOT NULL            -- ms since the epoch
) STRICT;

CREATE INDEX adapters_by_kind ON adapters (domain, category, provider);

-- The daemon's last verdict on each adapter.
CREATE TABLE adapter_health (
  adapter_id            TEXT PRIMARY KEY REFERENCES adapters (adapter_id) ON DELETE CASCADE,
  status                TEXT NOT NULL CHECK (status IN ('unknown', 'healthy', 'degraded', 'unhealthy')),
  since                 INTEGER NOT NULL, -- ms
  last_checked          INTEGER,          -- ms, NULL before the first check
  latency_ms            REAL,
  source                TEXT NOT NULL CHECK (source IN ('probe', 'registry', 'none')),
  reason                TEXT NOT NULL,
  consecutive_successes INTEGER NOT NULL,
  consecutive_failures  INTEGER NOT NULL,
  registry_status       TEXT NOT NULL
) STRICT;

-- The registry link as last seen; one row.
CREATE TABLE registry_state (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  endpoint     TEXT NOT NULL,
  reachable    INTEGER NOT NULL,
  last_sync    INTEGER, -- ms of the last successful sync
  last_attempt INTEGER, -- ms of the last sync attempt
  last_error   TEXT
) STRICT;

-- Settings readers of the file need without the daemon's config (e.g. the status CLI).
CREATE TABLE daemon_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- The event journal: appended in the same transaction as the change it records.
CREATE TABLE events (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  id      TEXT NOT NULL UNIQUE,
  type    TEXT NOT NULL,
  subject TEXT NOT NULL,
  time    INTEGER NOT NULL, -- ms
  data    TEXT NOT NULL     -- JSON
) STRICT;

-- Each registry endpoint the daemon talks to (primary and secondaries), with its
-- circuit breaker state (cockatiel toJSON) so an open breaker stays open across a
-- restart instead of the daemon hammering a dead registry on start.
CREATE TABLE registry_endpoints (
  endpoint   TEXT PRIMARY KEY,
  role       TEXT NOT NULL CHECK (role IN ('primary', 'secondary')),
  breaker    TEXT,             -- JSON from CircuitBreakerPolicy.toJSON(), NULL before the first change
  reachable  INTEGER NOT NULL DEFAULT 0,
  last_ok    INTEGER,          -- ms of the last successful call
  last_error TEXT,
  updated_at INTEGER NOT NULL  -- ms
) STRICT;


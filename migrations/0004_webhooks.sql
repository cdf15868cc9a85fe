-- One row per webhook subscriber: how far it has been delivered. Events are not
-- copied anywhere: the journal is the buffer, and a subscriber resumes from here.
CREATE TABLE webhook_cursors (
  name          TEXT PRIMARY KEY,
  cursor        INTEGER NOT NULL,           -- seq of the last event delivered (or filtered out)
  parked        INTEGER NOT NULL DEFAULT 0, -- 1: gave up after max_attempts; waits for unpark or a config change
  parked_reason TEXT,
  failures      INTEGER NOT NULL DEFAULT 0, -- failed attempts in a row on the event after cursor
  config_hash   TEXT,                       -- sha256 of url and secret: a changed endpoint unparks
  updated_at    INTEGER NOT NULL            -- ms
) STRICT;

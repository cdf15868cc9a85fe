-- Scale-out (docs/scale-out.md): what a cluster member keeps beside a lone daemon's state.
-- Every column is nullable, so a daemon that runs alone writes and reads what it did before.

-- The instance whose journal the event was first committed in: NULL for a lone daemon's
-- own events, the member's id for one mirrored from the fleet's stream (it keeps its id).
ALTER TABLE events ADD COLUMN origin TEXT;

-- The cluster member whose check gave this verdict; NULL on a daemon that runs alone.
ALTER TABLE adapter_health ADD COLUMN owner TEXT;

-- Positions in the cluster's streams, by name: "publish" is the seq of the last journal
-- event JetStream acknowledged (or that was not to be published), so a restart resumes there.
CREATE TABLE cluster_cursors (
  name       TEXT PRIMARY KEY,
  position   INTEGER NOT NULL,
  updated_at INTEGER NOT NULL -- ms
) STRICT;

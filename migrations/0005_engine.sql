-- An adapter that leaves the catalog keeps its row (and so its verdict and breaker)
-- until journal retention passes its removal: a registry that answers wrongly for a
-- while, then right again, gives the adapters back as they were, not as unknown.
ALTER TABLE adapters ADD COLUMN removed_at INTEGER; -- ms; NULL while in the catalog

-- The interval the adapter's next check was scheduled at when this verdict was
-- committed (edge, open, watched or normal): a verdict is stale when its next check
-- is overdue, which readers of the file judge the same way as the daemon.
ALTER TABLE adapter_health ADD COLUMN check_interval_ms INTEGER;

import { DEFAULT_SIMULATOR_LISTEN } from "../simulator/simulator-defaults.js";

/** `oneiric-healthd --help`. */
export const USAGE = `oneiric-healthd: watches the adapters of an Oneiric adapter registry

Usage:
  oneiric-healthd run [--config FILE] [--db PATH] [--http-listen HOST:PORT] [--grpc-listen HOST:PORT]
      Run the daemon. Defaults: HTTP 127.0.0.1:8681, gRPC 127.0.0.1:8682, registry localhost:8679.
  oneiric-healthd status [ID] [--json] [--db PATH | --config FILE]
      Last-known status from the database file; works while the daemon is stopped.
  oneiric-healthd simulate --scenario FILE [--listen HOST:PORT] [--watch-interval-ms MS]
        [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] [--jwt-secret-env VAR [--jwt-project P]]
      Serve a simulated registry (default ${DEFAULT_SIMULATOR_LISTEN}) and adapter health endpoints,
      optionally requiring TLS, mTLS (client certificates signed by --tls-client-ca) and an HS256 JWT.
      Watch streams see a scripted change within --watch-interval-ms (default 100).
  oneiric-healthd check-config FILE
      Validate a config file and exit (0 valid, 78 invalid).
  oneiric-healthd demo [--scenario FILE] [--duration SEC] [--free-ports]
        [--http-listen HOST:PORT] [--grpc-listen HOST:PORT] [--simulator-listen HOST:PORT]
      Daemon plus an embedded simulator on the demo scenario: prints where to look once ready,
      then what changes. Defaults: HTTP 127.0.0.1:8681, gRPC 127.0.0.1:8682, simulator a free
      port; --free-ports puts every address not given on a free loopback port.

Queries (answered by a running daemon, or read from its database file while it is stopped):
  oneiric-healthd resolve DOMAIN CATEGORY [PROVIDER] [--project P] [--panic] [--json] [SOURCE]
      The adapter to use, its fallbacks in order, what is excluded and why. Exit 1 when none is usable.
  oneiric-healthd events [--since SEQ] [--limit N] [--follow] [--json] [SOURCE]
      Journal events, one line each (--json: CloudEvents, one per line); --follow streams until Ctrl-C.
  oneiric-healthd workflow check FILE [--json] [SOURCE]
      Resolves every adapter requirement of the workflows in FILE.
      Exit 0 all met, 1 some not met (with the nearest adapters), 2 invalid file (with its line).
  oneiric-healthd mcp [SOURCE]
      An MCP server on stdin/stdout with the oneiric_* tools.
  SOURCE is --url URL (a daemon's HTTP address), --db PATH (its database file, read-only) or
  --config FILE (the daemon's config: ask the daemon it names, else read its file). With none,
  the daemon at http://127.0.0.1:8681 is asked, else ./oneiric-healthd.db is read.

Exit codes: 0 ok, 1 failure, 2 invalid workflow file, 64 usage error,
  69 a listen address is in use (run, demo, simulate), 78 configuration error.
`;

/**
 * Every command's flags, arguments, help text and examples, in one table that
 * both the parser and `--help` read. Kept free of the commands' own modules so
 * that `--help` and usage errors load nothing else.
 *
 * To add a flag, add an entry to the command's `flags`: its value reaches the
 * command as `line.values["the-flag"]`, typed by the entry, and `--help` lists
 * it. To add a command, add its spec to COMMANDS and its runner to RUNNERS in
 * src/cli.ts (a spec without a runner does not compile).
 */
import { DEFAULT_SIMULATOR_LISTEN } from "../simulator/simulator-defaults.js";
import { type CommandGroup, defineCommand } from "./command-spec.js";

/** SOURCE: where the query commands get their answers (see query-source.ts and chooseBackend). */
export const SOURCE_FLAGS = {
  url: {
    type: "string",
    value: "URL",
    expects: "a daemon's HTTP address",
    example: "http://127.0.0.1:8681",
    description:
      "Ask the daemon at URL (http://host:port, https://…, or host:port); nothing else is tried.",
  },
  db: {
    type: "string",
    value: "PATH",
    expects: "the daemon's database file",
    example: "./oneiric-healthd.db",
    description: "Read the daemon's SQLite file, read-only; works while the daemon is stopped.",
  },
  config: {
    type: "string",
    value: "FILE",
    expects: "the daemon's config file",
    example: "healthd.yaml",
    description:
      "Ask the daemon at FILE's healthd.http.listen, else read FILE's healthd.storage.path.",
  },
} as const;

const SOURCE_NOTE =
  "Without --url, --db or --config the daemon at http://127.0.0.1:8681 is asked, else " +
  "./oneiric-healthd.db is read; stderr says which answered. --url and --db together are a usage error.";

const LISTEN_EXPECTS = "an address to listen on, HOST:PORT";

/**
 * The list filters of `GET /v1/adapters` (listFilterSchema), for the commands
 * that list adapters: each flag is the query parameter of the same name.
 */
export const FILTER_FLAGS = {
  project: {
    type: "string",
    value: "P",
    expects: "a project name",
    example: "mahavishnu",
    description: "Only adapters of project P.",
  },
  domain: {
    type: "string",
    value: "D",
    expects: "a domain",
    example: "adapter",
    description: "Only adapters of domain D.",
  },
  category: {
    type: "string",
    value: "C",
    expects: "a category",
    example: "storage",
    description: "Only adapters of category C.",
  },
  provider: {
    type: "string",
    value: "P",
    expects: "a provider",
    example: "s3",
    description: "Only adapters of provider P.",
  },
  status: {
    type: "string",
    value: "S",
    expects: "a health status",
    example: "unhealthy",
    description: "Only adapters whose status is S (healthy, degraded, unhealthy, unknown).",
  },
  "healthy-only": {
    type: "boolean",
    description: "Only healthy adapters that resolution may choose.",
  },
} as const;

/** `uptime --window`: the windows GET /v1/uptime answers for (UPTIME_WINDOWS, history-queries.ts). */
const UPTIME_WINDOW_NOTE = "1h, 24h, 7d, 30d or 90d";

export const RUN_COMMAND = defineCommand({
  name: "run",
  summary: "Run the daemon until SIGTERM or SIGINT; SIGHUP reloads its configuration.",
  section: "daemon",
  arguments: [],
  flags: {
    config: {
      type: "string",
      value: "FILE",
      expects: "a config file",
      example: "healthd.yaml",
      description: "Read the configuration from FILE (YAML, see docs/configuration.md).",
      default: "built-in defaults, registry at localhost:8679",
    },
    db: {
      type: "string",
      value: "PATH",
      expects: "a database file",
      example: "./oneiric-healthd.db",
      description: "Keep state in the SQLite file PATH (instead of healthd.storage.path).",
      default: "oneiric-healthd.db",
    },
    "http-listen": {
      type: "string",
      value: "HOST:PORT",
      expects: LISTEN_EXPECTS,
      example: "127.0.0.1:8681",
      description:
        "Serve HTTP (API, SSE, MCP, /metrics) on HOST:PORT (instead of healthd.http.listen); port 0 picks a free one.",
      default: "127.0.0.1:8681",
    },
    "grpc-listen": {
      type: "string",
      value: "HOST:PORT",
      expects: LISTEN_EXPECTS,
      example: "127.0.0.1:8682",
      description:
        "Serve gRPC on HOST:PORT (instead of healthd.grpc.listen); port 0 picks a free one.",
      default: "127.0.0.1:8682",
    },
  },
  notes: [
    "A configuration error names the file, line and key and exits 78. A listen address in use " +
      "exits 69, naming it. A stop taking over 10 s, or a second signal, exits 1 at once.",
  ],
  examples: [
    { command: "oneiric-healthd run --config healthd.yaml", does: "the daemon as configured" },
    {
      command: "oneiric-healthd run --db /tmp/healthd.db --http-listen 127.0.0.1:0",
      does: "defaults, a scratch database, any free HTTP port",
    },
  ],
});

export const STATUS_COMMAND = defineCommand({
  name: "status",
  summary:
    "Every adapter's status as GET /v1/adapters lists it; from the database file while the daemon is stopped.",
  section: "query",
  arguments: [
    {
      name: "ID",
      description: "One adapter, in detail (e.g. mahavishnu.adapter.cache.redis); without it, all.",
    },
  ],
  flags: {
    json: {
      type: "boolean",
      description:
        "Print JSON, as GET /v1/adapters answers (with --watch: one JSON line per change).",
    },
    watch: {
      type: "boolean",
      description:
        "Keep the table up to date until Ctrl-C: redrawn in place on a terminal, one timestamped line per change otherwise.",
    },
    ...FILTER_FLAGS,
    ...SOURCE_FLAGS,
  },
  notes: [
    "Read from the file, verdicts whose next check is overdue show as (stale), Watch-fed ones " +
      "included (the file cannot know their stream is live). Exit 1 when there is no database.",
    "--watch follows a daemon's event stream; while no daemon answers it reads the database " +
      "file again when it changes (and every 2 s, as file change notices can be missed), asks " +
      "the daemon again (every 5 s at most) and switches back when it answers. The header says " +
      "which answers. Ctrl-C or SIGTERM ends it with exit 0.",
    SOURCE_NOTE,
  ],
  examples: [
    { command: "oneiric-healthd status", does: "a table of every adapter" },
    {
      command: "oneiric-healthd status mahavishnu.adapter.cache.redis --json",
      does: "one adapter as JSON",
    },
    {
      command: "oneiric-healthd status --watch --category storage",
      does: "the storage adapters, kept up to date",
    },
  ],
});

export const UPTIME_COMMAND = defineCommand({
  name: "uptime",
  summary:
    "Each adapter's uptime over a window, worst first, as GET /v1/uptime answers it; from the database file while the daemon is stopped.",
  section: "query",
  arguments: [],
  flags: {
    window: {
      type: "string",
      value: "W",
      expects: `a window, ${UPTIME_WINDOW_NOTE}`,
      example: "7d",
      description: `Over the last W: ${UPTIME_WINDOW_NOTE}.`,
      default: "24h",
    },
    json: { type: "boolean", description: "Print JSON, as GET /v1/uptime answers." },
    ...FILTER_FLAGS,
    ...SOURCE_FLAGS,
  },
  notes: [
    "Uptime is healthy and degraded time over that plus unhealthy time; maintenance and unknown " +
      "time (the daemon not running, no check yet) are left out and shown beside it, and " +
      "coverage says how much of the window outside maintenance was seen. Read from the file, " +
      "the time since the daemon's last observation is unknown.",
    SOURCE_NOTE,
  ],
  examples: [
    { command: "oneiric-healthd uptime", does: "the last 24 hours, worst first" },
    {
      command: "oneiric-healthd uptime --window 7d --category storage --json",
      does: "the storage adapters over a week, as JSON",
    },
  ],
});

export const SIMULATE_COMMAND = defineCommand({
  name: "simulate",
  summary: "Serve a simulated registry and adapter health endpoints, as a scenario file scripts.",
  section: "daemon",
  arguments: [],
  flags: {
    scenario: {
      type: "string",
      value: "FILE",
      expects: "a scenario file",
      example: "examples/scenarios/demo.yaml",
      description: "The adapters and their scripted behaviour (see examples/scenarios/README.md).",
      required: true,
    },
    listen: {
      type: "string",
      value: "HOST:PORT",
      expects: LISTEN_EXPECTS,
      example: DEFAULT_SIMULATOR_LISTEN,
      description: "Serve the registry's gRPC on HOST:PORT.",
      default: DEFAULT_SIMULATOR_LISTEN,
    },
    "watch-interval-ms": {
      type: "integer",
      value: "MS",
      expects: "a number of milliseconds",
      example: "100",
      description: "Watch streams see a scripted change within MS milliseconds.",
      default: "100",
      min: 1,
    },
    "tls-cert": {
      type: "string",
      value: "PEM",
      expects: "a PEM certificate file",
      example: "server.crt",
      description: "Require TLS, with this server certificate (needs --tls-key).",
    },
    "tls-key": {
      type: "string",
      value: "PEM",
      expects: "a PEM private key file",
      example: "server.key",
      description: "The private key of --tls-cert.",
    },
    "tls-client-ca": {
      type: "string",
      value: "PEM",
      expects: "a PEM CA certificate file",
      example: "ca.crt",
      description: "Require mTLS: client certificates signed by this CA (needs --tls-cert).",
    },
    "jwt-secret-env": {
      type: "string",
      value: "VAR",
      expects: "an environment variable's name",
      example: "REGISTRY_JWT_SECRET",
      description: "Require an HS256 JWT signed with the secret in environment variable VAR.",
    },
    "jwt-project": {
      type: "string",
      value: "P",
      expects: "a project name",
      example: "mahavishnu",
      description: "Require the JWT's project claim to be P (with --jwt-secret-env).",
    },
  },
  examples: [
    {
      command: "oneiric-healthd simulate --scenario examples/scenarios/demo.yaml",
      does: `a dozen adapters, registry on ${DEFAULT_SIMULATOR_LISTEN}`,
    },
    {
      command: "oneiric-healthd simulate --scenario my-scenario.yaml --listen 127.0.0.1:0",
      does: "your own scenario, the registry on a free port",
    },
  ],
});

export const CHECK_CONFIG_COMMAND = defineCommand({
  name: "check-config",
  summary: "Validate a config file and exit: 0 valid, 78 invalid (naming the file, line and key).",
  section: "daemon",
  arguments: [{ name: "FILE", description: "The config file to check.", required: true }],
  flags: {},
  examples: [
    {
      command: "oneiric-healthd check-config examples/config/healthd.yaml",
      does: "prints FILE: valid",
    },
  ],
});

export const DEMO_COMMAND = defineCommand({
  name: "demo",
  summary:
    "The daemon plus an embedded simulator on the demo scenario; prints where to look, then what changes.",
  section: "daemon",
  arguments: [],
  flags: {
    scenario: {
      type: "string",
      value: "FILE",
      expects: "a scenario file",
      example: "examples/scenarios/demo.yaml",
      description: "Simulate the adapters of FILE.",
      default: "examples/scenarios/demo.yaml",
    },
    duration: {
      type: "string",
      value: "SEC",
      expects: "a number of seconds",
      example: "30",
      description: "Stop after SEC seconds.",
      default: "run until Ctrl-C",
    },
    "http-listen": {
      type: "string",
      value: "HOST:PORT",
      expects: LISTEN_EXPECTS,
      example: "127.0.0.1:8681",
      description: "Serve the daemon's HTTP on HOST:PORT; port 0 picks a free one.",
      default: "127.0.0.1:8681",
    },
    "grpc-listen": {
      type: "string",
      value: "HOST:PORT",
      expects: LISTEN_EXPECTS,
      example: "127.0.0.1:8682",
      description: "Serve the daemon's gRPC on HOST:PORT; port 0 picks a free one.",
      default: "127.0.0.1:8682",
    },
    "simulator-listen": {
      type: "string",
      value: "HOST:PORT",
      expects: LISTEN_EXPECTS,
      example: "127.0.0.1:8679",
      description: "Serve the simulated registry on HOST:PORT.",
      default: "a free loopback port",
    },
    "free-ports": {
      type: "boolean",
      description:
        "Listen on free loopback ports (port 0) wherever no --*-listen flag says otherwise; the demo prints which.",
    },
  },
  notes: [
    "Once the daemon is ready the demo prints where to look: every surface at its address, and " +
      "status, resolve, events and workflow check commands that reach this daemon, spelt as they " +
      "run where the demo was started. A breaker that stays open is printed when it opens, then " +
      "at most once a minute per adapter, and when it closes.",
    "The database is a throw-away file in a temporary directory; it is kept when the demo stops.",
    "A taken address stops the demo (simulator included) with exit 69, naming the address and " +
      "the flag to pass.",
  ],
  examples: [
    { command: "oneiric-healthd demo", does: "until Ctrl-C" },
    { command: "oneiric-healthd demo --duration 30", does: "stops by itself after 30 s" },
    {
      command: "oneiric-healthd demo --free-ports",
      does: "beside a daemon already on 8681 and 8682",
    },
  ],
});

export const HEALTHCHECK_COMMAND = defineCommand({
  name: "healthcheck",
  summary:
    "Ask a daemon its /healthz (--ready: /readyz) where its config says it serves them; for HEALTHCHECK.",
  section: "daemon",
  arguments: [],
  flags: {
    config: {
      type: "string",
      value: "FILE",
      expects: "the daemon's config file",
      example: "/etc/oneiric-healthd/healthd.yaml",
      description:
        "Use FILE's healthd.http.listen and TLS: over HTTPS the certificate it serves is the one trusted.",
      default: "the defaults (http://127.0.0.1:8681)",
    },
    url: {
      type: "string",
      value: "URL",
      expects: "a daemon's HTTP address",
      example: "https://healthd.example:8681",
      description: "Ask the daemon at URL instead, with the usual certificate checks.",
    },
    ready: {
      type: "boolean",
      description: "Ask /readyz (ready for work) instead of /healthz (alive).",
    },
    timeout: {
      type: "string",
      value: "SEC",
      expects: "a number of seconds",
      example: "4",
      description: "Give up after SEC seconds.",
      default: "4",
    },
    cert: {
      type: "string",
      value: "PEM",
      expects: "a client certificate file",
      example: "client.pem",
      description: "Client certificate for a daemon that asks for one (with --key).",
    },
    key: {
      type: "string",
      value: "PEM",
      expects: "the client certificate's key file",
      example: "client-key.pem",
      description: "The key of --cert.",
    },
  },
  notes: [
    "The token, when the probes need one, comes from ONEIRIC_HEALTHD_TOKEN. Exit 0 live (ready), " +
      "1 not (with the daemon's reason), 78 when the config file is invalid.",
  ],
  examples: [
    {
      command: "oneiric-healthd healthcheck --config /etc/oneiric-healthd/healthd.yaml --ready",
      does: "the container image's HEALTHCHECK",
    },
  ],
});

export const RESOLVE_COMMAND = defineCommand({
  name: "resolve",
  summary:
    "The adapter to use, its fallbacks in order, what is excluded and why; exit 1 when none is usable.",
  section: "query",
  arguments: [
    { name: "DOMAIN", description: "The requirement's domain, e.g. adapter.", required: true },
    { name: "CATEGORY", description: "Its category, e.g. storage.", required: true },
    { name: "PROVIDER", description: "Its provider, e.g. s3; without it, any provider." },
  ],
  flags: {
    project: {
      type: "string",
      value: "P",
      expects: "a project name",
      example: "mahavishnu",
      description: "Only adapters of project P.",
      default: "any project",
    },
    panic: {
      type: "boolean",
      description: "When nothing is usable, name the least-bad candidate (still exit 1).",
    },
    json: { type: "boolean", description: "Print the resolution as the HTTP API gives it." },
    ...SOURCE_FLAGS,
  },
  notes: ["Without --panic the daemon's healthd.resolution.panic applies.", SOURCE_NOTE],
  examples: [
    { command: "oneiric-healthd resolve adapter storage", does: "the best storage adapter" },
    {
      command: "oneiric-healthd resolve adapter cache redis --json --url http://127.0.0.1:8681",
      does: "as JSON, from that daemon",
    },
  ],
});

export const EVENTS_COMMAND = defineCommand({
  name: "events",
  summary: "Journal events, one line each; --follow prints them as they happen, until Ctrl-C.",
  section: "query",
  arguments: [],
  flags: {
    since: {
      type: "integer",
      value: "SEQ",
      expects: "a journal seq",
      example: "120",
      description: "Events after journal seq SEQ (with --follow: replay those, then follow).",
      default: "the oldest event still kept; with --follow, from now",
      min: 0,
    },
    limit: {
      type: "integer",
      value: "N",
      expects: "a number of events",
      example: "50",
      description: "At most N events (without --follow).",
      default: "100",
      min: 1,
      max: 1000,
    },
    follow: {
      type: "boolean",
      description: "Keep printing events as they happen, until SIGINT or SIGTERM.",
    },
    json: { type: "boolean", description: "Print each event as one line of CloudEvents JSON." },
    ...SOURCE_FLAGS,
  },
  notes: [
    "When the page is full, stderr says where to continue (--since N). A --since older than " +
      "what the journal keeps exits 1, naming the oldest seq kept.",
    SOURCE_NOTE,
  ],
  examples: [
    { command: "oneiric-healthd events --limit 20", does: "the first 20 events kept" },
    {
      command: "oneiric-healthd events --follow --json",
      does: "new events as CloudEvents JSON lines",
    },
  ],
});

export const WORKFLOW_CHECK_COMMAND = defineCommand({
  name: "workflow check",
  summary: "Resolve every adapter requirement of the workflows in a file.",
  section: "query",
  arguments: [
    {
      name: "FILE",
      description: "Workflow definitions, YAML (see examples/workflows/example-workflows.yaml).",
      required: true,
    },
  ],
  flags: {
    json: { type: "boolean", description: "Print the whole report as JSON." },
    ...SOURCE_FLAGS,
  },
  notes: [
    "Exit 0 when all are met; 1 when some are not (each named with its line, with the nearest " +
      "adapters); 2 when the file is invalid or missing (with its line).",
    SOURCE_NOTE,
  ],
  examples: [
    {
      command: "oneiric-healthd workflow check examples/workflows/example-workflows.yaml",
      does: "every requirement, met or not",
    },
  ],
});

export const MCP_COMMAND = defineCommand({
  name: "mcp",
  summary: "An MCP server on stdin/stdout with the oneiric_* tools.",
  section: "query",
  arguments: [],
  flags: { ...SOURCE_FLAGS },
  notes: [
    "Only protocol messages go to stdout. Exits 0 when the client closes stdin, or on SIGINT or SIGTERM.",
    SOURCE_NOTE,
  ],
  examples: [
    {
      command: "oneiric-healthd mcp --url http://127.0.0.1:8681",
      does: "for an MCP client's config",
    },
  ],
});

/** Every command, in the order the top-level help lists them. */
export const COMMANDS = [
  RUN_COMMAND,
  STATUS_COMMAND,
  UPTIME_COMMAND,
  SIMULATE_COMMAND,
  CHECK_CONFIG_COMMAND,
  DEMO_COMMAND,
  HEALTHCHECK_COMMAND,
  RESOLVE_COMMAND,
  EVENTS_COMMAND,
  WORKFLOW_CHECK_COMMAND,
  MCP_COMMAND,
] as const;

export type CommandName = (typeof COMMANDS)[number]["name"];

export const COMMAND_GROUPS: readonly CommandGroup[] = [
  { name: "workflow", summary: "Check workflow definitions against the adapters." },
];

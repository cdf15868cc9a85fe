import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { ConfigError } from "./errors.js";
import { defaultConfig, loadConfigFile, parseConfigText } from "./load.js";

const SEED_ONEIRIC_SECTION = `oneiric_mcp:
  enabled: true
  grpc_host: "oneiric-mcp.production.internal"
  grpc_port: 8680
  use_tls: true
  jwt_enabled: true
  jwt_secret: "\${MAHAVISHNU_ONEIRIC_JWT_SECRET}"
  tls_cert_path: "/etc/mahavishnu/tls/client.crt"
  tls_key_path: "/etc/mahavishnu/tls/client.key"
  tls_ca_path: "/etc/mahavishnu/tls/ca.crt"
`;

const HEALTHD_SECTION = `healthd:
  http:
    listen: "0.0.0.0:9681"
  grpc:
    listen: "[::1]:9682"
  storage:
    path: /var/lib/oneiric-healthd/state.db
    synchronous: full
  sync:
    interval_sec: 30
  probes:
    interval_sec: 10
    timeout_sec: 2
    jitter: 0.25
    rise: 3
    fall: 4
    degraded_latency_ms: 750
    concurrency: 8
    stale_after_sec: 45
  log:
    level: debug
`;

const SEED_ENV = { MAHAVISHNU_ONEIRIC_JWT_SECRET: "s3cret-from-env" };

/** Runs `parseConfigText` and returns the ConfigError it throws. */
function configError(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parseConfigText(text, "healthd.yaml", env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError, but the config was accepted");
}

describe("parseConfigText: accepted files", () => {
  it("accepts the seed's oneiric_mcp section as users write it, expanding the JWT secret", () => {
    const config = parseConfigText(SEED_ONEIRIC_SECTION, "seed.yaml", SEED_ENV);
    expect(config.source).toBe("seed.yaml");
    expect(config.registry).toEqual({
      enabled: true,
      host: "oneiric-mcp.production.internal",
      port: 8680,
      useTls: true,
      timeoutMs: 30_000,
      cacheTtlMs: 300_000,
      jwtEnabled: true,
      jwtSecret: "s3cret-from-env",
      jwtProject: undefined,
      tlsCertPath: "/etc/mahavishnu/tls/client.crt",
      tlsKeyPath: "/etc/mahavishnu/tls/client.key",
      tlsCaPath: "/etc/mahavishnu/tls/ca.crt",
      breakerThreshold: 3,
      breakerDurationMs: 300_000,
    });
  });

  it("accepts the healthd section, converting seconds to milliseconds", () => {
    const config = parseConfigText(
      `${SEED_ONEIRIC_SECTION}${HEALTHD_SECTION}`,
      "seed.yaml",
      SEED_ENV,
    );
    expect(config.http.listen).toEqual({ host: "0.0.0.0", port: 9681 });
    expect(config.grpc).toEqual({ listen: { host: "::1", port: 9682 } });
    expect(config.storage).toEqual({
      path: "/var/lib/oneiric-healthd/state.db",
      synchronous: "full",
    });
    expect(config.sync).toEqual({ intervalMs: 30_000, cron: undefined });
    expect(config.probes).toEqual({
      concurrency: 8,
      stale: { graceMs: 45_000, fallbackAfterMs: 75_000 },
      startupRatePerSec: 200,
      startupMaxRatePerSec: 2_500,
    });
    expect(config.adapters.defaults.probes).toEqual({
      intervalMs: 10_000,
      // Not given: a third of the interval, and four intervals while the breaker is open.
      edgeIntervalMs: (10 / 3) * 1000,
      openIntervalMs: 40_000,
      watchedIntervalMs: 300_000,
      timeoutMs: 2_000,
      jitter: 0.25,
      rise: 3,
      fall: 4,
      degradedLatencyMs: 750,
      expectBody: undefined,
      heartbeatTtlMs: undefined,
      watch: true,
      registryCheck: true,
    });
    expect(config.log).toEqual({ level: "debug" });
  });

  it("gives the documented defaults for an empty file", () => {
    const config = parseConfigText("", "empty.yaml", {});
    expect(config).toEqual({
      source: "empty.yaml",
      registry: {
        enabled: true,
        host: "localhost",
        port: 8679,
        useTls: false,
        timeoutMs: 30_000,
        cacheTtlMs: 300_000,
        jwtEnabled: false,
        jwtSecret: undefined,
        jwtProject: undefined,
        tlsCertPath: undefined,
        tlsKeyPath: undefined,
        tlsCaPath: undefined,
        breakerThreshold: 3,
        breakerDurationMs: 300_000,
      },
      fallback: {
        secondaries: [],
        localFile: undefined,
        breakerThreshold: 3,
        halfOpenAfterMs: 1_000,
        maxHalfOpenAfterMs: 60_000,
        maxConcurrentCalls: 64,
        maxQueuedCalls: 256,
        jwtTtlMs: 300_000,
      },
      http: {
        listen: { host: "127.0.0.1", port: 8681 },
        maxBodyBytes: 65_536,
        sseHeartbeatMs: 15_000,
        maxEventStreams: 5_000,
        serveInWorker: true,
        tls: undefined,
      },
      grpc: { listen: { host: "127.0.0.1", port: 8682 }, tls: undefined },
      // Off by default: both servers listen on loopback only.
      auth: {
        enabled: false,
        tokens: [],
        jwt: undefined,
        openPaths: { healthz: true, metrics: true, reflection: true, badges: false },
      },
      limits: {
        requestsPerSec: 50,
        burst: 100,
        maxConnections: 1_000,
        slowClientTimeoutMs: 10_000,
      },
      storage: { path: "oneiric-healthd.db", synchronous: "normal" },
      sync: { intervalMs: 60_000, cron: undefined },
      probes: {
        concurrency: 64,
        stale: { graceMs: 6_000, fallbackAfterMs: 51_000 },
        startupRatePerSec: 200,
        startupMaxRatePerSec: 2_500,
      },
      adapters: {
        defaults: {
          probes: {
            intervalMs: 15_000,
            edgeIntervalMs: 5_000,
            openIntervalMs: 60_000,
            watchedIntervalMs: 450_000,
            timeoutMs: 5_000,
            jitter: 0.1,
            rise: 2,
            fall: 3,
            degradedLatencyMs: 1000,
            expectBody: undefined,
            heartbeatTtlMs: undefined,
            watch: true,
            registryCheck: true,
          },
          breaker: {
            kind: "consecutive",
            // The registry client's breaker threshold and duration carry over.
            threshold: 3,
            halfOpenAfterMs: 300_000,
            size: 20,
            minCalls: 5,
            durationMs: 60_000,
          },
          priority: 100,
        },
        overrides: [],
      },
      flap: { transitions: 4, windowMs: 120_000 },
      resolution: { panic: false, requirements: [] },
      maintenance: [],
      history: { minuteBucketsKeptMs: 48 * 3_600_000, hourBucketsKeptMs: 90 * 86_400_000 },
      journal: { maxAgeMs: 30 * 86_400_000, maxEvents: 1_000_000, retentionCron: "*/10 * * * *" },
      webhooks: [],
      log: { level: "info" },
      metrics: { maxCategoryLabels: 50 },
      // No cluster section: the daemon runs alone and needs no NATS.
      cluster: undefined,
    });
    expect("cluster" in config).toBe(true);
  });

  it("treats a comments-only file like an empty one, and defaultConfig agrees", () => {
    const fromComments = parseConfigText("# nothing set yet\n", "x.yaml", {});
    const fromEmpty = parseConfigText("", "x.yaml", {});
    expect(fromComments).toEqual(fromEmpty);
    expect({ ...defaultConfig(), source: "x.yaml" }).toEqual(fromEmpty);
  });

  it("lets a check be late by its timeout and a second before its verdict is stale, unless stale_after_sec says", () => {
    const config = parseConfigText(
      "healthd:\n  probes:\n    interval_sec: 7\n  overrides:\n    - { match: { provider: s3 }, probes: { timeout_sec: 9 } }\n",
      "x.yaml",
      {},
    );
    // The longest timeout any adapter has (9 s, by an override) and a second for the commit.
    expect(config.probes.stale).toEqual({ graceMs: 10_000, fallbackAfterMs: 31_000 });
    const given = parseConfigText("healthd:\n  probes:\n    stale_after_sec: 2\n", "x.yaml", {});
    expect(given.probes.stale).toEqual({ graceMs: 2_000, fallbackAfterMs: 47_000 });
  });

  it("stops the derived open and watched intervals at the longest wait a timer allows", () => {
    // Daily probes once made a 30-day Watch safety net, which Node.js timers run after 1 ms.
    const probes = parseConfigText("healthd:\n  probes:\n    interval_sec: 86400\n", "f.yaml", {})
      .adapters.defaults.probes;
    expect(probes.openIntervalMs).toBe(4 * 86_400_000);
    expect(probes.watchedIntervalMs).toBe(2_147_483_000);
  });

  it("uses the default of ${VAR:-default} when the variable is unset, the value when set", () => {
    const text = 'oneiric_mcp:\n  grpc_host: "${REGISTRY_HOST:-registry.internal}"\n';
    expect(parseConfigText(text, "x.yaml", {}).registry.host).toBe("registry.internal");
    expect(parseConfigText(text, "x.yaml", { REGISTRY_HOST: "other" }).registry.host).toBe("other");
  });

  it("expands variables inside a longer string", () => {
    const text = 'healthd:\n  storage:\n    path: "${STATE_DIR}/healthd.db"\n';
    expect(parseConfigText(text, "x.yaml", { STATE_DIR: "/srv" }).storage.path).toBe(
      "/srv/healthd.db",
    );
  });

  it("lets command-line overrides win over the file", () => {
    const config = parseConfigText(
      HEALTHD_SECTION,
      "x.yaml",
      {},
      {
        dbPath: "/tmp/override.db",
        httpListen: "127.0.0.1:18681",
        grpcListen: "[::]:18682",
      },
    );
    expect(config.storage.path).toBe("/tmp/override.db");
    expect(config.http.listen).toEqual({ host: "127.0.0.1", port: 18681 });
    expect(config.grpc.listen).toEqual({ host: "::", port: 18682 });
    // Settings not overridden still come from the file.
    expect(config.storage.synchronous).toBe("full");
  });

  it("applies overrides to defaultConfig too", () => {
    const config = defaultConfig({ dbPath: "/tmp/d.db", httpListen: "localhost:1" });
    expect(config.storage.path).toBe("/tmp/d.db");
    expect(config.http.listen).toEqual({ host: "localhost", port: 1 });
    expect(config.grpc.listen).toEqual({ host: "127.0.0.1", port: 8682 });
  });

  it("reports a bad listen override under the flag's name", () => {
    expect(() => parseConfigText("", "x.yaml", {}, { grpcListen: "nope" })).toThrow(
      'x.yaml: --grpc-listen: expected HOST:PORT, got "nope"',
    );
  });
});

describe("parseConfigText: rejected files", () => {
  const cases: {
    name: string;
    text: string;
    env?: Record<string, string>;
    message: string;
    key: string;
    line: number | undefined;
  }[] = [
    {
      name: "unknown top-level key",
      text: "oneiric_mcp:\n  enabled: true\nextra: 1\n",
      message: "healthd.yaml:3: extra: unknown key",
      key: "extra",
      line: 3,
    },
    {
      name: "unknown key in oneiric_mcp (typo)",
      text: "oneiric_mcp:\n  enabled: true\n  grpc_hots: registry\n",
      message: 'healthd.yaml:3: oneiric_mcp.grpc_hots: unknown key (did you mean "grpc_host"?)',
      key: "oneiric_mcp.grpc_hots",
      line: 3,
    },
    {
      name: "unknown key nested in healthd",
      text: "healthd:\n  probes:\n    interval_sec: 5\n    intervall: 3\n",
      message: "healthd.yaml:4: healthd.probes.intervall: unknown key",
      key: "healthd.probes.intervall",
      line: 4,
    },
    {
      name: "wrong type: quoted port",
      text: 'oneiric_mcp:\n  grpc_port: "8680"\n',
      message:
        'healthd.yaml:2: oneiric_mcp.grpc_port: must be an integer from 1 to 65535; got "8680"',
      key: "oneiric_mcp.grpc_port",
      line: 2,
    },
    {
      name: "wrong type: yes is a string in YAML 1.2",
      text: "oneiric_mcp:\n  use_tls: yes\n",
      message: 'healthd.yaml:2: oneiric_mcp.use_tls: must be true or false; got "yes"',
      key: "oneiric_mcp.use_tls",
      line: 2,
    },
    {
      name: "wrong type: section is a list",
      text: "oneiric_mcp: [1]\n",
      message: "healthd.yaml:1: oneiric_mcp: must be a mapping; got a list of 1 item",
      key: "oneiric_mcp",
      line: 1,
    },
    {
      name: "port out of range",
      text: "oneiric_mcp:\n  grpc_port: 70000\n",
      message:
        "healthd.yaml:2: oneiric_mcp.grpc_port: must be an integer from 1 to 65535; got 70000",
      key: "oneiric_mcp.grpc_port",
      line: 2,
    },
    {
      name: "jitter out of range",
      text: "healthd:\n  probes:\n    jitter: 2\n",
      message: "healthd.yaml:3: healthd.probes.jitter: must be a number from 0 to 1; got 2",
      key: "healthd.probes.jitter",
      line: 3,
    },
    {
      name: "rise below one",
      text: "healthd:\n  probes:\n    rise: 0\n",
      message: "healthd.yaml:3: healthd.probes.rise: must be an integer from 1 to 100; got 0",
      key: "healthd.probes.rise",
      line: 3,
    },
    {
      name: "several problems: each on its own line, in file order",
      text: "oneiric_mcp:\n  grpc_port: 0\n  use_tls: 1\n",
      message:
        "healthd.yaml:2: oneiric_mcp.grpc_port: must be an integer from 1 to 65535; got 0\n" +
        "healthd.yaml:3: oneiric_mcp.use_tls: must be true or false; got 1",
      key: "oneiric_mcp.grpc_port",
      line: 2,
    },
    {
      name: "enum value not allowed",
      text: "healthd:\n  storage:\n    synchronous: off\n",
      message:
        'healthd.yaml:3: healthd.storage.synchronous: must be one of "normal", "full"; got "off"',
      key: "healthd.storage.synchronous",
      line: 3,
    },
    {
      name: "listen address without a port",
      text: 'healthd:\n  http:\n    listen: "localhost"\n',
      message: 'healthd.yaml:3: healthd.http.listen: expected HOST:PORT, got "localhost"',
      key: "healthd.http.listen",
      line: 3,
    },
    {
      name: "listen port out of range",
      text: 'healthd:\n  grpc:\n    listen: "0.0.0.0:99999"\n',
      message: "healthd.yaml:3: healthd.grpc.listen: port 99999 is out of range 0-65535",
      key: "healthd.grpc.listen",
      line: 3,
    },
    {
      name: "unset environment variable names the variable and the key",
      text: SEED_ONEIRIC_SECTION,
      message:
        "healthd.yaml:7: oneiric_mcp.jwt_secret: environment variable MAHAVISHNU_ONEIRIC_JWT_SECRET is not set",
      key: "oneiric_mcp.jwt_secret",
      line: 7,
    },
    {
      name: "${VAR:-} with an empty default still needs a jwt_secret",
      text: 'oneiric_mcp:\n  jwt_enabled: true\n  jwt_secret: "${JWT_SECRET:-}"\n',
      message: "healthd.yaml:3: oneiric_mcp.jwt_secret: required when jwt_enabled is true",
      key: "oneiric_mcp.jwt_secret",
      line: 3,
    },
    {
      name: "invalid YAML: bad indentation",
      text: "oneiric_mcp:\n  enabled: true\n   grpc_host: x\n",
      message:
        "healthd.yaml:2: not valid YAML: Nested mappings are not allowed in compact mappings\n" +
        "healthd.yaml:2: not valid YAML: Implicit keys need to be on a single line",
      key: "",
      line: 2,
    },
    {
      name: "invalid YAML: unclosed flow sequence",
      text: "oneiric_mcp:\n  grpc_host: [unclosed\n",
      message:
        "healthd.yaml:3: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
      key: "",
      line: 3,
    },
    {
      name: "invalid YAML: duplicate key",
      text: "healthd:\n  log:\n    level: info\n  log:\n    level: debug\n",
      message: "healthd.yaml:4: healthd.log: given more than once (YAML map keys must be unique)",
      key: "healthd.log",
      line: 4,
    },
    {
      name: "not a mapping: a list",
      text: "# header comment\n- oneiric_mcp\n- healthd\n",
      message: "healthd.yaml:2: expected a mapping with oneiric_mcp: and healthd: sections",
      key: "",
      line: 2,
    },
    {
      name: "not a mapping: a scalar",
      text: "just some text\n",
      message: "healthd.yaml:1: expected a mapping with oneiric_mcp: and healthd: sections",
      key: "",
      line: 1,
    },
    {
      name: "jwt_enabled without jwt_secret",
      text: "oneiric_mcp:\n  grpc_host: registry\n  jwt_enabled: true\n",
      message: "healthd.yaml:3: oneiric_mcp.jwt_secret: required when jwt_enabled is true",
      key: "oneiric_mcp.jwt_secret",
      line: 3,
    },
    {
      name: "tls_cert_path without tls_key_path",
      text: "oneiric_mcp:\n  use_tls: true\n  tls_cert_path: /etc/tls/client.crt\n",
      message:
        "healthd.yaml:3: oneiric_mcp.tls_key_path: tls_cert_path and tls_key_path must be given together",
      key: "oneiric_mcp.tls_key_path",
      line: 3,
    },
    {
      name: "tls_key_path without tls_cert_path",
      text: "oneiric_mcp:\n  tls_key_path: /etc/tls/client.key\n",
      message:
        "healthd.yaml:2: oneiric_mcp.tls_cert_path: tls_cert_path and tls_key_path must be given together",
      key: "oneiric_mcp.tls_cert_path",
      line: 2,
    },
    // Found by the config loader property tests (test/reliability/properties).
    {
      name: "a wait longer than a timer can wait (it would fire after 1 ms)",
      text: "healthd:\n  sync:\n    interval_sec: 2147484\n",
      message:
        "healthd.yaml:3: healthd.sync.interval_sec: at most 2147483 (24.8 days, the longest a timer can wait)",
      key: "healthd.sync.interval_sec",
      line: 3,
    },
    {
      name: "a YAML alias inside its own anchor",
      text: "healthd:\n  probes: &p\n    interval_sec: 10\n    nested: *p\n",
      message:
        "healthd.yaml:4: healthd.probes.nested: refers to itself (a YAML alias inside its own anchor)",
      key: "healthd.probes.nested",
      line: 4,
    },
    {
      name: "an alias to an anchor that is not defined before it",
      text: "healthd:\n  probes: *later\nx: &later {}\n",
      message: "healthd.yaml:2: healthd.probes: alias *later has no anchor &later before it",
      key: "healthd.probes",
      line: 2,
    },
  ];

  it.each(cases)("$name", ({ text, env, message, key, line }) => {
    const error = configError(text, env);
    expect(error.message).toBe(message);
    expect(error.file).toBe("healthd.yaml");
    expect(error.key).toBe(key);
    expect(error.line).toBe(line);
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.name).toBe("ConfigError");
  });
});

describe("loadConfigFile", () => {
  let directory: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), "healthd-config-"));
  });

  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it("reads and resolves a file, naming it as the source", () => {
    const file = join(directory, "healthd.yaml");
    // loadConfigFile also checks that the TLS files it names exist.
    const tlsFiles = ["client.crt", "client.key", "ca.crt"];
    for (const name of tlsFiles) writeFileSync(join(directory, name), "pem");
    let text = `${SEED_ONEIRIC_SECTION}${HEALTHD_SECTION}`;
    for (const name of tlsFiles)
      text = text.replace(`/etc/mahavishnu/tls/${name}`, join(directory, name));
    writeFileSync(file, text);
    const config = loadConfigFile(file, SEED_ENV, { dbPath: "/tmp/cli.db" });
    expect(config.source).toBe(file);
    expect(config.registry.host).toBe("oneiric-mcp.production.internal");
    expect(config.registry.jwtSecret).toBe("s3cret-from-env");
    expect(config.storage.path).toBe("/tmp/cli.db");
  });

  it("names the key and line of a TLS file that does not exist", () => {
    const file = join(directory, "tls.yaml");
    writeFileSync(file, "oneiric_mcp:\n  use_tls: true\n  tls_ca_path: /nonexistent/ca.crt\n");
    expect(() => loadConfigFile(file, {})).toThrow(
      `${file}:3: oneiric_mcp.tls_ca_path: file /nonexistent/ca.crt does not exist`,
    );
  });

  it("names the file in errors found inside it", () => {
    const file = join(directory, "bad.yaml");
    writeFileSync(file, "healthd:\n  bogus: 1\n");
    expect(() => loadConfigFile(file, {})).toThrow(`${file}:2: healthd.bogus: unknown key`);
  });

  it("reports a missing file", () => {
    const file = join(directory, "absent.yaml");
    let caught: unknown;
    try {
      loadConfigFile(file, {});
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.message).toBe(`${file}: file not found`);
    expect(error.file).toBe(file);
    expect(error.key).toBe("");
    expect(error.line).toBeUndefined();
  });

  it("refuses a file over 4 MiB, reading no more of it than that", () => {
    const file = join(directory, "huge.yaml");
    writeFileSync(file, `# ${"x".repeat(5 * 1024 * 1024)}\n`);
    expect(() => loadConfigFile(file, {})).toThrow(
      `${file}: file too big: a configuration file may be at most 4 MiB (4194304 bytes)`,
    );
    // A device that never ends is cut off at the limit too.
    expect(() => loadConfigFile("/dev/zero", {})).toThrow("/dev/zero: file too big");
  });

  it("refuses bytes that are not UTF-8, naming their line", () => {
    const file = join(directory, "latin1.yaml");
    writeFileSync(file, Buffer.from("healthd:\n  log:\n    level: d\xe9bug\n", "latin1"));
    expect(() => loadConfigFile(file, {})).toThrow(`${file}:3: not a text file: not valid UTF-8`);
  });

  it("reports a path that cannot be read as a file", () => {
    expect(() => loadConfigFile(directory, {})).toThrow(`${directory}: cannot read (EISDIR)`);
  });
});

describe("environment references that are a whole value", () => {
  it("take the type their text reads as", () => {
    const config = parseConfigText(
      "oneiric_mcp:\n  grpc_port: ${PORT}\n  use_tls: ${TLS}\n  grpc_host: ${HOST}\n",
      "typed.yaml",
      { PORT: "8680", TLS: "true", HOST: "registry.internal" },
    );
    expect(config.registry.port).toBe(8680);
    expect(config.registry.useTls).toBe(true);
    expect(config.registry.host).toBe("registry.internal");
    expect(() =>
      parseConfigText("oneiric_mcp:\n  grpc_port: ${PORT}\n", "typed.yaml", { PORT: "x" }),
    ).toThrow('typed.yaml:2: oneiric_mcp.grpc_port: must be an integer from 1 to 65535; got "x"');
  });

  it("reads a section whose keys are all commented out as empty", () => {
    const config = parseConfigText("oneiric_mcp:\n  # grpc_port: 1\nhealthd:\n", "empty.yaml", {});
    expect(config.registry.port).toBe(8679);
  });
});

describe("a wrong value, worded like the HTTP API's parameter problems", () => {
  it.each([
    {
      name: "a word for a wait in seconds",
      text: "healthd:\n  probes:\n    interval_sec: often\n",
      line: 'healthd.yaml:3: healthd.probes.interval_sec: must be a number > 0 and ≤ 2147483; got "often"',
    },
    {
      name: "a negative timeout, with its bounds",
      text: "healthd:\n  webhooks:\n    - name: ops\n      url: http://127.0.0.1:9/hook\n      secret: 0123456789abcdef\n      timeout_sec: -1\n",
      line: "healthd.yaml:6: healthd.webhooks[0].timeout_sec: must be a number > 0 and ≤ 300; got -1",
    },
    {
      name: "an empty string where one is needed",
      text: 'healthd:\n  storage:\n    path: ""\n',
      line: 'healthd.yaml:3: healthd.storage.path: must be a string of at least 1 character; got ""',
    },
    {
      name: "a time that is not one",
      text: "healthd:\n  maintenance:\n    - adapters: cache\n      from: tomorrow\n      until: 2026-12-01T06:00:00Z\n",
      line: 'healthd.yaml:4: healthd.maintenance[0].from: must be an ISO 8601 time with an offset, such as "2026-11-27T06:00:00Z"; got "tomorrow"',
    },
    {
      name: "a missing key",
      text: "healthd:\n  resolution:\n    requirements:\n      - category: storage\n",
      line: "healthd.yaml:4: healthd.resolution.requirements[0].domain: is required (a string)",
    },
    {
      name: "an empty value",
      text: "healthd:\n  flap:\n    window_sec:\n",
      line: "healthd.yaml:3: healthd.flap.window_sec: must be a number > 0; got an empty value",
    },
    {
      name: "a list too long, counting what was given",
      text: `healthd:\n  registry:\n    secondaries: [${Array.from({ length: 17 }, (_, i) => `"r${i}:1"`).join(", ")}]\n`,
      line: "healthd.yaml:3: healthd.registry.secondaries: must be a list of at most 16 items; got a list of 17 items",
    },
    {
      name: "a number where a section goes",
      text: "healthd:\n  probes: 5\n",
      line: "healthd.yaml:2: healthd.probes: must be a mapping; got 5",
    },
    {
      name: "a variable's text that is no port",
      text: "oneiric_mcp:\n  grpc_port: ${PORT}\n",
      env: { PORT: "http" },
      line: 'healthd.yaml:2: oneiric_mcp.grpc_port: must be an integer from 1 to 65535; got "http"',
    },
  ])("$name", ({ text, env, line }) => {
    expect(configError(text, env).message).toBe(line);
  });

  it("rewords zod's own messages and keeps the project's as written", () => {
    const error = configError(
      [
        "healthd:", // 1
        "  probes:", // 2
        "    interval_sec: 9999999", // 3
        "    jitter: 2", // 4
        "  webhooks:", // 5
        "    - name: Ops Team", // 6
        "      url: ftp://example.test/hook", // 7
        "      secret: short", // 8
        "  maintenance:", // 9
        "    - adapters: cache", // 10
        "      cron: '0 6 * * *'", // 11
        "",
      ].join("\n"),
    );
    expect(error.message.split("\n")).toEqual([
      "healthd.yaml:3: healthd.probes.interval_sec: at most 2147483 (24.8 days, the longest a timer can wait)",
      "healthd.yaml:4: healthd.probes.jitter: must be a number from 0 to 1; got 2",
      "healthd.yaml:6: healthd.webhooks[0].name: lower-case letters, digits, _ and - only",
      "healthd.yaml:7: healthd.webhooks[0].url: an http:// or https:// URL",
      "healthd.yaml:8: healthd.webhooks[0].secret: at least 16 characters (use 32 random bytes, e.g. from ${ENV})",
      "healthd.yaml:10: healthd.maintenance[0]: give either from and until, or cron and duration_min",
    ]);
  });

  it("describes a secret that is the wrong kind of value without quoting it", () => {
    const error = configError(
      [
        "oneiric_mcp:",
        "  jwt_secret: ${JWT_SECRET}",
        "healthd:",
        "  auth:",
        "    tokens:",
        "      - name: ops",
        "        token: ${OPS_TOKEN}",
        "        scopes: [read]",
        "  webhooks:",
        "    - name: ops",
        "      url: http://127.0.0.1:9/hook",
        "      secret: ${HOOK_SECRET}",
        "",
      ].join("\n"),
      { JWT_SECRET: "31415926535", OPS_TOKEN: "27182818284590452353", HOOK_SECRET: "true" },
    );
    expect(error.message.split("\n")).toEqual([
      "healthd.yaml:2: oneiric_mcp.jwt_secret: must be a string; got a number",
      "healthd.yaml:7: healthd.auth.tokens[0].token: must be a string of 16 to 4096 characters matching ^[A-Za-z0-9\\-._~+/]+=*$; got a number",
      "healthd.yaml:12: healthd.webhooks[0].secret: must be a string of at least 16 characters; got a boolean",
    ]);
    for (const value of ["31415926535", "27182818284590452353", "true"]) {
      expect(error.message).not.toContain(value);
    }
  });
});

describe("every problem of a file at once", () => {
  it("lists each problem with its line and key, in file order, suggesting the key meant", () => {
    const error = configError(
      [
        "oneiric_mcp:", // 1
        "  grpc_prot: 8680", // 2
        "  use_tls: maybe", // 3
        "healthd:", // 4
        "  probes:", // 5
        "    intervl_sec: 5", // 6
        "    rise: 0", // 7
        "  overrides:", // 8
        "    - match: { adapter: cache }", // 9
        "      probes: { Timeout-Sec: 2 }", // 10
        "  zzz_nothing_like_it: 1", // 11
        "",
      ].join("\n"),
    );
    expect(error.problems).toEqual([
      {
        file: "healthd.yaml",
        line: 2,
        key: "oneiric_mcp.grpc_prot",
        problem: 'unknown key (did you mean "grpc_port"?)',
      },
      {
        file: "healthd.yaml",
        line: 3,
        key: "oneiric_mcp.use_tls",
        problem: 'must be true or false; got "maybe"',
      },
      {
        file: "healthd.yaml",
        line: 6,
        key: "healthd.probes.intervl_sec",
        problem: 'unknown key (did you mean "interval_sec"?)',
      },
      {
        file: "healthd.yaml",
        line: 7,
        key: "healthd.probes.rise",
        problem: "must be an integer from 1 to 100; got 0",
      },
      {
        file: "healthd.yaml",
        line: 10,
        key: "healthd.overrides[0].probes.Timeout-Sec",
        problem: 'unknown key (did you mean "timeout_sec"?)',
      },
      {
        file: "healthd.yaml",
        line: 11,
        key: "healthd.zzz_nothing_like_it",
        problem: "unknown key",
      },
    ]);
    expect(error.message.split("\n")).toEqual([
      'healthd.yaml:2: oneiric_mcp.grpc_prot: unknown key (did you mean "grpc_port"?)',
      'healthd.yaml:3: oneiric_mcp.use_tls: must be true or false; got "maybe"',
      'healthd.yaml:6: healthd.probes.intervl_sec: unknown key (did you mean "interval_sec"?)',
      "healthd.yaml:7: healthd.probes.rise: must be an integer from 1 to 100; got 0",
      'healthd.yaml:10: healthd.overrides[0].probes.Timeout-Sec: unknown key (did you mean "timeout_sec"?)',
      "healthd.yaml:11: healthd.zzz_nothing_like_it: unknown key",
    ]);
    expect(error.message).not.toContain("more problem");
    // The first problem stays where single-problem callers look.
    expect([error.file, error.line, error.key]).toEqual([
      "healthd.yaml",
      2,
      "oneiric_mcp.grpc_prot",
    ]);
  });

  it("names every unknown key of one mapping, not just the first", () => {
    const error = configError("healthd:\n  htp: {}\n  grcp: {}\n  sotrage: {}\n");
    expect(error.message).toBe(
      [
        'healthd.yaml:2: healthd.htp: unknown key (did you mean "http"?)',
        'healthd.yaml:3: healthd.grcp: unknown key (did you mean "grpc"?)',
        'healthd.yaml:4: healthd.sotrage: unknown key (did you mean "storage"?)',
      ].join("\n"),
    );
  });

  it("suggests a section name at the top level", () => {
    expect(configError("helthd:\n  log: {}\n").message).toBe(
      'healthd.yaml:1: helthd: unknown key (did you mean "healthd"?)',
    );
  });

  it("lists every unset variable, without the schema's complaints about the same keys", () => {
    const error = configError(
      "oneiric_mcp:\n  grpc_port: ${PORT}\n  grpc_host: ${HOST}\nhealthd:\n  probes:\n    rise: 0\n",
    );
    expect(error.message.split("\n")).toEqual([
      "healthd.yaml:2: oneiric_mcp.grpc_port: environment variable PORT is not set",
      "healthd.yaml:3: oneiric_mcp.grpc_host: environment variable HOST is not set",
      "healthd.yaml:6: healthd.probes.rise: must be an integer from 1 to 100; got 0",
    ]);
  });

  it("lists every broken rule between keys", () => {
    const error = configError(
      [
        "oneiric_mcp:",
        "  jwt_enabled: true",
        "  tls_cert_path: /etc/tls/client.crt",
        "healthd:",
        "  auth:",
        "    enabled: true",
        "  breaker:",
        "    kind: count",
        "    threshold: 3",
        "",
      ].join("\n"),
    );
    expect(error.message.split("\n")).toEqual([
      "healthd.yaml:2: oneiric_mcp.jwt_secret: required when jwt_enabled is true",
      "healthd.yaml:3: oneiric_mcp.tls_key_path: tls_cert_path and tls_key_path must be given together",
      "healthd.yaml:6: healthd.auth.enabled: auth is enabled but no tokens or jwt are configured, so nothing could get in",
      "healthd.yaml:9: healthd.breaker.threshold: a count breaker's threshold is a failure ratio from 0 to 1, got 3",
    ]);
  });

  it("lists every YAML syntax error, each with its line", () => {
    const error = configError("healthd:\n\tprobes: {}\nhealthd: 1\n");
    expect(error.problems.length).toBeGreaterThan(1);
    for (const problem of error.problems) expect(problem.line).toBeGreaterThan(0);
    expect(error.message).toContain(
      "healthd.yaml:2: not valid YAML: Tabs are not allowed as indentation",
    );
  });

  it("keeps the single-problem ConfigError as it was", () => {
    const error = new ConfigError("a.yaml", "healthd.log.level", "bad", 4);
    expect(error.message).toBe("a.yaml:4: healthd.log.level: bad");
    expect(error.problems).toEqual([
      { file: "a.yaml", key: "healthd.log.level", problem: "bad", line: 4 },
    ]);
  });
});

describe("files shaped to break a YAML loader", () => {
  /** Nine anchors of nine aliases each: 9^9 values if expanded. */
  const BILLION_LAUGHS = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ..."bcdefghi"
      .split("")
      .map(
        (name, index) => `${name}: &${name} [${Array(9).fill(`*${"abcdefghi"[index]}`).join(",")}]`,
      ),
    "",
  ].join("\n");

  it("keeps every problem on its own FILE:LINE: line when an unclosed quote makes a key of two lines", () => {
    // Found by the property test: the unclosed quote runs on, and the key yaml reports
    // a duplicate of holds the line break; the key is shown quoted, not broken in two.
    const error = configError(
      'oneiric_mcp:\n  tls_key_path: "%YAML 1.1\n${X}/client.key"\n\nhealthd:\n  http:\n  http:\n    listen: "127.0.0.1:1"\n',
    );
    const lines = error.message.split("\n");
    for (const line of lines) expect(line).toMatch(/^healthd\.yaml:\d+: /);
    expect(lines.at(-1)).toBe(
      'healthd.yaml:6: "${X}/client.key\\"\\nhealthd": given more than once (YAML map keys must be unique)',
    );
  });

  it("refuses an alias inside its own anchor, naming its line and key", () => {
    const error = configError("healthd:\n  probes:\n    jitter: &a [*a]\n");
    expect(error.message).toBe(
      "healthd.yaml:3: healthd.probes.jitter[0]: refers to itself (a YAML alias inside its own anchor)",
    );
  });

  it("refuses a billion laughs with the line of the alias that goes too far", () => {
    // yaml itself refuses it too, with no line: the loader's own check comes first.
    expect(() => parseDocument(BILLION_LAUGHS).toJS({ maxAliasCount: 1000 })).toThrow(
      "Excessive alias count",
    );
    const error = configError(BILLION_LAUGHS);
    expect(error.problems).toHaveLength(1);
    expect(error.line).toBe(5);
    expect(error.key).toBe("e[0]");
    expect(error.problem).toContain('a "billion laughs"');
  });

  it("refuses aliases that add too many values even when each anchor is used little", () => {
    const big = `big: &big [${Array(2_000).fill("1").join(",")}]`;
    const uses = Array.from({ length: 60 }, (_, index) => `u${index}: *big`);
    const error = configError([big, ...uses, ""].join("\n"));
    expect(error.problem).toContain("expand the file too far");
    // 49 copies of 2,001 values are 98,049; the 50th use (line 51) makes 100,050.
    expect(error.line).toBe(51);
  });

  it("accepts one anchor shared by every override", () => {
    // The first override holds the anchor (unknown top-level keys are refused); 999 use it.
    const overrides = [
      "    - { match: { adapter: a0 }, probes: &fast { interval_sec: 5, timeout_sec: 1 } }",
      ...Array.from(
        { length: 999 },
        (_, index) => `    - { match: { adapter: a${index + 1} }, probes: *fast }`,
      ),
    ];
    const config = parseConfigText(
      ["healthd:", "  overrides:", ...overrides, ""].join("\n"),
      "shared.yaml",
      {},
    );
    expect(config.adapters.overrides).toHaveLength(1_000);
    expect(config.adapters.overrides[999]?.probes?.intervalMs).toBe(5_000);
  });

  it("refuses flow nesting past 64 levels quickly, naming the line", () => {
    const started = Date.now();
    const error = configError(`healthd:\n  x: ${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}\n`);
    expect(error.message).toBe("healthd.yaml:2: nested more than 64 levels deep");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("refuses block nesting past 64 levels, naming the line and key", () => {
    const lines = Array.from({ length: 70 }, (_, depth) => `${" ".repeat(depth)}k${depth}:`);
    const error = configError(`${lines.join("\n")} 1\n`);
    expect(error.line).toBe(65);
    expect(error.problem).toBe("nested more than 64 levels deep");
    expect(error.key).toMatch(/^k0\.k1\.k2\..*k63$/);
  });

  it("refuses a text over 4 MiB without parsing it", () => {
    const error = configError(`# ${"x".repeat(4 * 1024 * 1024)}\n`);
    expect(error.message).toBe(
      "healthd.yaml: file too big (4194307 bytes): a configuration file may be at most 4 MiB (4194304 bytes)",
    );
    // Just under the limit is an ordinary file (comments only: the defaults).
    expect(
      parseConfigText(`# ${"x".repeat(4 * 1024 * 1024 - 8)}\n`, "big.yaml", {}).log.level,
    ).toBe("info");
  });

  it("refuses control characters, tags and a second document, naming the line", () => {
    expect(configError("healthd:\n  log: {}\n\u0000\u0001\u00ff").message).toBe(
      "healthd.yaml:3: not a YAML text file: control character U+0000",
    );
    expect(configError("healthd:\n  storage:\n    path: !!binary aGVsbG8=\n").message).toBe(
      "healthd.yaml:3: healthd.storage.path: tag !!binary is not supported (plain YAML values only)",
    );
    expect(configError("healthd: !!set { log }\n").message).toBe(
      "healthd.yaml:1: healthd: tag !!set is not supported (plain YAML values only)",
    );
    expect(configError("healthd: {}\n---\nhealthd: {}\n").message).toBe(
      "healthd.yaml:2: more than one YAML document (a --- line inside)",
    );
  });
});

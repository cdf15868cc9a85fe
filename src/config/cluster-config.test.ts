import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { diffConfigs } from "./config-diff.js";
import { ConfigError } from "./errors.js";
import { defaultConfig, loadConfigFile, parseConfigText } from "./load.js";
import { planReload } from "./reload-plan.js";

const parse = (text: string) => parseConfigText(text, "healthd.yaml", {});

/** The ConfigError's lines for `text`, or a failure when it is accepted. */
function problems(text: string): string[] {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split("\n");
    throw error;
  }
  throw new Error("expected a ConfigError, but the config was accepted");
}

/** A `healthd.cluster` section from its indented lines (four spaces, under `cluster:`). */
const cluster = (...lines: string[]) =>
  `healthd:\n  cluster:\n${lines.map((line) => `    ${line}\n`).join("")}`;

const DYNAMIC = cluster("name: prod", "nats:", "  servers: [nats://127.0.0.1:4222]");

describe("healthd.cluster: accepted", () => {
  it("is undefined without the section, and then needs no NATS", () => {
    expect(parse("").cluster).toBeUndefined();
    expect(defaultConfig().cluster).toBeUndefined();
    expect(parse("healthd:\n  log: { level: info }\n").cluster).toBeUndefined();
  });

  it("gives dynamic mode, a 10 s lease and no instance id by default", () => {
    expect(parse(DYNAMIC).cluster).toEqual({
      name: "prod",
      instance: undefined,
      mode: "dynamic",
      shard: undefined,
      leaseTtlMs: 10_000,
      nats: { servers: ["nats://127.0.0.1:4222"], tls: undefined, credentialsPath: undefined },
    });
  });

  it("resolves every key", () => {
    const config = parse(
      cluster(
        "name: Prod_eu-1",
        "instance: healthd-a",
        "mode: dynamic",
        "lease_ttl_sec: 30",
        "nats:",
        "  servers: [nats://nats-1:4222, tls://nats-2:4222, nats-3:4222, '[::1]:4222']",
        "  tls: { ca_path: /etc/nats/ca.crt, cert_path: /etc/nats/c.crt, key_path: /etc/nats/c.key }",
        "  credentials: /etc/nats/healthd.creds",
      ),
    );
    expect(config.cluster).toEqual({
      name: "Prod_eu-1",
      instance: "healthd-a",
      mode: "dynamic",
      shard: undefined,
      leaseTtlMs: 30_000,
      nats: {
        servers: ["nats://nats-1:4222", "tls://nats-2:4222", "nats-3:4222", "[::1]:4222"],
        tls: {
          caPath: "/etc/nats/ca.crt",
          certPath: "/etc/nats/c.crt",
          keyPath: "/etc/nats/c.key",
        },
        credentialsPath: "/etc/nats/healthd.creds",
      },
    });
  });

  it("takes a shard in static mode, with or without NATS", () => {
    const alone = parse(cluster("name: prod", "mode: static", "shard: 2/3"));
    expect(alone.cluster).toMatchObject({ mode: "static", shard: { index: 2, count: 3 } });
    expect(alone.cluster?.nats).toBeUndefined();
    const published = parse(
      cluster("name: prod", "mode: static", 'shard: "0/1024"', "nats: { servers: [h:4222] }"),
    );
    expect(published.cluster).toMatchObject({
      shard: { index: 0, count: 1024 },
      nats: { servers: ["h:4222"] },
    });
  });

  it("takes TLS with only a CA, or with none of its files (the system roots)", () => {
    const caOnly = parse(`${DYNAMIC}      tls: { ca_path: /etc/nats/ca.crt }\n`);
    expect(caOnly.cluster?.nats?.tls).toEqual({
      caPath: "/etc/nats/ca.crt",
      certPath: undefined,
      keyPath: undefined,
    });
    const systemRoots = parse(`${DYNAMIC}      tls: {}\n`);
    expect(systemRoots.cluster?.nats?.tls).toEqual({
      caPath: undefined,
      certPath: undefined,
      keyPath: undefined,
    });
  });

  it("takes the lease TTL from 3 to 300 seconds", () => {
    const shortest = parse(cluster("name: p", "lease_ttl_sec: 3", "nats: { servers: [h:1] }"));
    const longest = parse(cluster("name: p", "lease_ttl_sec: 300", "nats: { servers: [h:1] }"));
    expect([shortest.cluster?.leaseTtlMs, longest.cluster?.leaseTtlMs]).toEqual([3_000, 300_000]);
  });
});

describe("healthd.cluster: refused, naming the file, line and key", () => {
  it.each([
    {
      name: "no name",
      text: cluster("mode: static", "shard: 0/2"),
      expected: ["healthd.yaml:2: healthd.cluster.name: is required (a string)"],
    },
    {
      name: "a name with a space",
      text: cluster("name: my cluster", "nats: { servers: [h:1] }"),
      expected: [
        'healthd.yaml:3: healthd.cluster.name: must be 1 to 64 letters, digits, _ or - (it becomes part of NATS names); got "my cluster"',
      ],
    },
    {
      name: "a name of 65 characters",
      text: cluster(`name: ${"n".repeat(65)}`, "nats: { servers: [h:1] }"),
      expected: [
        `healthd.yaml:3: healthd.cluster.name: must be 1 to 64 letters, digits, _ or - (it becomes part of NATS names); got "${"n".repeat(65)}"`,
      ],
    },
    {
      name: "an instance id with a dot (a NATS subject separator)",
      text: cluster("name: prod", "instance: healthd.a", "nats: { servers: [h:1] }"),
      expected: [
        'healthd.yaml:4: healthd.cluster.instance: must be 1 to 64 letters, digits, _ or - (it becomes part of NATS names); got "healthd.a"',
      ],
    },
    {
      name: "an empty instance id",
      text: cluster("name: prod", "instance: ''", "nats: { servers: [h:1] }"),
      expected: [
        'healthd.yaml:4: healthd.cluster.instance: must be 1 to 64 letters, digits, _ or - (it becomes part of NATS names); got ""',
      ],
    },
    {
      name: "an unknown mode",
      text: cluster("name: prod", "mode: sharded"),
      expected: [
        'healthd.yaml:4: healthd.cluster.mode: must be one of "dynamic", "static"; got "sharded"',
      ],
    },
    {
      name: "a shard whose index is not below the count",
      text: cluster("name: prod", "mode: static", "shard: 3/3"),
      expected: ['healthd.yaml:5: healthd.cluster.shard: must be "i/n" with 0 <= i < n; got "3/3"'],
    },
    {
      name: "a shard count of 0",
      text: cluster("name: prod", "mode: static", "shard: 0/0"),
      expected: ['healthd.yaml:5: healthd.cluster.shard: must be "i/n" with 0 <= i < n; got "0/0"'],
    },
    {
      name: "a negative shard index",
      text: cluster("name: prod", "mode: static", "shard: -1/3"),
      expected: [
        'healthd.yaml:5: healthd.cluster.shard: must be "i/n" with 0 <= i < n; got "-1/3"',
      ],
    },
    {
      name: "a shard that is not i/n",
      text: cluster("name: prod", "mode: static", "shard: first"),
      expected: [
        'healthd.yaml:5: healthd.cluster.shard: must be "i/n" with 0 <= i < n; got "first"',
      ],
    },
    {
      name: "more than 1024 shards",
      text: cluster("name: prod", "mode: static", "shard: 0/1025"),
      expected: [
        'healthd.yaml:5: healthd.cluster.shard: must be "i/n" with n at most 1024; got "0/1025"',
      ],
    },
    {
      name: "static mode without a shard",
      text: cluster("name: prod", "mode: static"),
      expected: [
        'healthd.yaml:4: healthd.cluster.shard: required when mode is static (e.g. shard: "0/3")',
      ],
    },
    {
      name: "a shard in dynamic mode",
      text: cluster("name: prod", "shard: 0/2", "nats: { servers: [h:1] }"),
      expected: [
        "healthd.yaml:4: healthd.cluster.shard: only for mode: static (dynamic mode shares the adapters among the live members)",
      ],
    },
    {
      name: "dynamic mode without NATS",
      text: cluster("name: prod", "mode: dynamic"),
      expected: [
        "healthd.yaml:2: healthd.cluster.nats.servers: required in dynamic mode (the members find each other through NATS)",
      ],
    },
    {
      name: "a lease TTL below 3 s",
      text: cluster("name: prod", "lease_ttl_sec: 2", "nats: { servers: [h:1] }"),
      expected: [
        "healthd.yaml:4: healthd.cluster.lease_ttl_sec: must be an integer from 3 to 300; got 2",
      ],
    },
    {
      name: "a lease TTL above 300 s",
      text: cluster("name: prod", "lease_ttl_sec: 301", "nats: { servers: [h:1] }"),
      expected: [
        "healthd.yaml:4: healthd.cluster.lease_ttl_sec: must be an integer from 3 to 300; got 301",
      ],
    },
    {
      name: "a fractional lease TTL",
      text: cluster("name: prod", "lease_ttl_sec: 7.5", "nats: { servers: [h:1] }"),
      expected: [
        "healthd.yaml:4: healthd.cluster.lease_ttl_sec: must be an integer from 3 to 300; got 7.5",
      ],
    },
    {
      name: "a slip in a key's name",
      text: cluster("name: prod", "lease_ttl: 5", "nats: { servers: [h:1] }"),
      expected: [
        'healthd.yaml:4: healthd.cluster.lease_ttl: unknown key (did you mean "lease_ttl_sec"?)',
      ],
    },
    {
      name: "a slip in a NATS key's name",
      text: cluster("name: prod", "nats:", "  server: [h:1]"),
      expected: [
        "healthd.yaml:4: healthd.cluster.nats.servers: is required (a list of 1 to 64 items)",
        'healthd.yaml:5: healthd.cluster.nats.server: unknown key (did you mean "servers"?)',
      ],
    },
    {
      name: "an empty server list",
      text: cluster("name: prod", "nats: { servers: [] }"),
      expected: [
        "healthd.yaml:4: healthd.cluster.nats.servers: must be a list of 1 to 64 items; got an empty list",
      ],
    },
    {
      name: "servers that are not NATS addresses",
      text: cluster(
        "name: prod",
        "nats:",
        "  servers:",
        "    - nats://nats-1:4222",
        "    - ws://nats-2:443",
        "    - nats-3",
        "    - nats://nats-4:0",
      ),
      expected: [
        'healthd.yaml:7: healthd.cluster.nats.servers[1]: expected nats://HOST:PORT, tls://HOST:PORT or HOST:PORT with a port from 1 to 65535; got "ws://nats-2:443"',
        'healthd.yaml:8: healthd.cluster.nats.servers[2]: expected nats://HOST:PORT, tls://HOST:PORT or HOST:PORT with a port from 1 to 65535; got "nats-3"',
        'healthd.yaml:9: healthd.cluster.nats.servers[3]: expected nats://HOST:PORT, tls://HOST:PORT or HOST:PORT with a port from 1 to 65535; got "nats://nats-4:0"',
      ],
    },
    {
      name: "a client certificate without its key",
      text: `${DYNAMIC}      tls:\n        cert_path: /etc/nats/c.crt\n`,
      expected: [
        "healthd.yaml:7: healthd.cluster.nats.tls.key_path: cert_path and key_path must be given together",
      ],
    },
    {
      name: "a TLS key slip",
      text: `${DYNAMIC}      tls:\n        ca-path: /etc/nats/ca.crt\n`,
      expected: [
        'healthd.yaml:7: healthd.cluster.nats.tls.ca-path: unknown key (did you mean "ca_path"?)',
      ],
    },
    {
      // The file's other TLS settings (http, grpc, oneiric_mcp) are all *_path.
      name: "a TLS file named *_file",
      text: `${DYNAMIC}      tls:\n        ca_file: /etc/nats/ca.crt\n`,
      expected: ["healthd.yaml:7: healthd.cluster.nats.tls.ca_file: unknown key"],
    },
    {
      name: "an empty credentials path",
      text: `${DYNAMIC}      credentials: ""\n`,
      expected: [
        'healthd.yaml:6: healthd.cluster.nats.credentials: must be a string of at least 1 character; got ""',
      ],
    },
  ])("$name", ({ text, expected }) => {
    expect(problems(text)).toEqual(expected);
  });
});

describe("healthd.cluster: files it names, checked when a file is loaded", () => {
  let directory: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), "healthd-cluster-config-"));
  });

  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  /** Writes a config whose nats section ends with `natsLines` and returns its path. */
  function configFile(...natsLines: string[]): string {
    const file = join(directory, "healthd.yaml");
    writeFileSync(file, `${DYNAMIC}${natsLines.map((line) => `      ${line}\n`).join("")}`);
    return file;
  }

  function loadError(file: string): ConfigError {
    try {
      loadConfigFile(file, {});
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error("expected a ConfigError, but the config was accepted");
  }

  it("accepts TLS files and a credentials file that can be read", () => {
    for (const name of ["ca.crt", "c.crt", "c.key", "healthd.creds"]) {
      writeFileSync(join(directory, name), "pem");
    }
    const file = configFile(
      "tls:",
      `  ca_path: ${join(directory, "ca.crt")}`,
      `  cert_path: ${join(directory, "c.crt")}`,
      `  key_path: ${join(directory, "c.key")}`,
      `credentials: ${join(directory, "healthd.creds")}`,
    );
    expect(loadConfigFile(file, {}).cluster?.nats).toEqual({
      servers: ["nats://127.0.0.1:4222"],
      tls: {
        caPath: join(directory, "ca.crt"),
        certPath: join(directory, "c.crt"),
        keyPath: join(directory, "c.key"),
      },
      credentialsPath: join(directory, "healthd.creds"),
    });
  });

  it("names each TLS file that does not exist, with its line and key", () => {
    const file = configFile(
      "tls:",
      `  ca_path: ${join(directory, "ca.crt")}`,
      `  cert_path: ${join(directory, "c.crt")}`,
      `  key_path: ${join(directory, "c.key")}`,
    );
    const error = loadError(file);
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message.split("\n")).toEqual([
      `${file}:7: healthd.cluster.nats.tls.ca_path: file ${join(directory, "ca.crt")} does not exist`,
      `${file}:8: healthd.cluster.nats.tls.cert_path: file ${join(directory, "c.crt")} does not exist`,
      `${file}:9: healthd.cluster.nats.tls.key_path: file ${join(directory, "c.key")} does not exist`,
    ]);
  });

  it("names a credentials file that does not exist, and one that is not a file", () => {
    const absent = join(directory, "absent.creds");
    expect(loadError(configFile(`credentials: ${absent}`)).message).toBe(
      `${join(directory, "healthd.yaml")}:6: healthd.cluster.nats.credentials: file ${absent} does not exist`,
    );
    const folder = join(directory, "creds.d");
    mkdirSync(folder);
    const error = loadError(configFile(`credentials: ${folder}`));
    expect(error.message).toBe(
      `${join(directory, "healthd.yaml")}:6: healthd.cluster.nats.credentials: ${folder} is not a regular file`,
    );
    expect([error.key, error.line]).toEqual(["healthd.cluster.nats.credentials", 6]);
  });

  it("leaves the files to loadConfigFile: parsing text alone does not look for them", () => {
    const config = parse(`${DYNAMIC}      credentials: /nonexistent/healthd.creds\n`);
    expect(config.cluster?.nats?.credentialsPath).toBe("/nonexistent/healthd.creds");
  });
});

describe("healthd.cluster on reload: restart-only", () => {
  const running = parse(
    cluster(
      "name: prod",
      "instance: healthd-a",
      "lease_ttl_sec: 10",
      "nats:",
      "  servers: [nats://nats-1:4222]",
    ),
  );

  it("names each changed cluster key as needing a restart and keeps the running values", () => {
    const next = parse(
      `${cluster(
        "name: staging",
        "instance: healthd-b",
        "lease_ttl_sec: 20",
        "nats:",
        "  servers: [nats://nats-2:4222]",
        "  tls: { ca_path: /etc/nats/ca.crt }",
        "  credentials: /etc/nats/healthd.creds",
      )}  probes:\n    rise: 5\n`,
    );
    const plan = planReload(running, next);
    expect(plan.changes.needsRestart).toEqual([
      "healthd.cluster.name",
      "healthd.cluster.instance",
      "healthd.cluster.lease_ttl_sec",
      "healthd.cluster.nats.servers",
      "healthd.cluster.nats.tls",
      "healthd.cluster.nats.credentials",
    ]);
    expect(plan.changes.applied).toEqual(["healthd.probes.rise"]);
    expect(plan.target.cluster).toEqual(running.cluster);
    expect(plan.target.adapters.defaults.probes.rise).toBe(5);
    // The next reload of the same file still says so.
    expect(diffConfigs(plan.target, next).needsRestart).toContain("healthd.cluster.name");
  });

  it("names a switch to static mode by mode and shard", () => {
    const next = parse(
      cluster(
        "name: prod",
        "instance: healthd-a",
        "mode: static",
        "shard: 1/4",
        "nats:",
        "  servers: [nats://nats-1:4222]",
      ),
    );
    expect(planReload(running, next).changes.needsRestart).toEqual([
      "healthd.cluster.mode",
      "healthd.cluster.shard",
    ]);
  });

  it("names the section when it is added or removed, and keeps running as started", () => {
    const alone = parse("");
    const added = planReload(alone, running);
    expect(added.changes).toEqual({ applied: [], needsRestart: ["healthd.cluster"] });
    expect(added.target.cluster).toBeUndefined();
    const removed = planReload(running, alone);
    expect(removed.changes).toEqual({ applied: [], needsRestart: ["healthd.cluster"] });
    expect(removed.target.cluster).toEqual(running.cluster);
  });

  it("names NATS added to a static cluster as healthd.cluster.nats", () => {
    const without = parse(cluster("name: prod", "mode: static", "shard: 0/2"));
    const withNats = parse(
      cluster("name: prod", "mode: static", "shard: 0/2", "nats: { servers: [h:4222] }"),
    );
    expect(planReload(without, withNats).changes.needsRestart).toEqual(["healthd.cluster.nats"]);
  });
});

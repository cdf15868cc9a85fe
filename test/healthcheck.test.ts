import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfigFile } from "../src/config/load.js";
import type { RunningDaemon } from "../src/main.js";
import { type GeneratedCertificates, generateCertificates } from "./support/certificates.js";
import { FakeRegistry } from "./support/fake-registry.js";
import { unusedPort } from "./support/ports.js";
import { startTestDaemon, tempDir } from "./support/stack.js";

const run = promisify(execFile);
const CLI = join(import.meta.dirname, "..", "bin", "oneiric-healthd.js");
const TOKEN = "healthcheck-test-token-0123456789";

/** `oneiric-healthd healthcheck ARGS` as a child process, as a HEALTHCHECK runs it. */
async function healthcheck(args: string[], env: Record<string, string> = {}) {
  const environment: Record<string, string | undefined> = { ...process.env, ...env };
  // Only what the test gives: an inherited token or extra CA would change the answer.
  if (!("ONEIRIC_HEALTHD_TOKEN" in env)) delete environment.ONEIRIC_HEALTHD_TOKEN;
  if (!("NODE_EXTRA_CA_CERTS" in env)) delete environment.NODE_EXTRA_CA_CERTS;
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, "healthcheck", ...args], {
      env: environment,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe("oneiric-healthd healthcheck", () => {
  let dir: ReturnType<typeof tempDir>;
  let registry: FakeRegistry;
  let daemon: RunningDaemon | undefined;
  let certs: GeneratedCertificates;

  beforeAll(() => {
    // One PKI for the file: openssl runs a few times.
    const pki = tempDir();
    certs = generateCertificates(pki.path);
    return () => pki.remove();
  });

  beforeEach(async () => {
    dir = tempDir();
    registry = await new FakeRegistry().start();
    registry.entries = [FakeRegistry.entry({})];
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    registry.stop();
    dir.remove();
  });

  /** Writes a config file the daemon and the healthcheck both read; `http` is the http: section's body. */
  async function configFile(name: string, http: string, extra = "", registryPort = registry.port) {
    const port = await unusedPort();
    const path = join(dir.path, name);
    writeFileSync(
      path,
      `oneiric_mcp: { grpc_host: 127.0.0.1, grpc_port: ${registryPort}, timeout_sec: 2 }
healthd:
  http: { listen: "127.0.0.1:${port}"${http} }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: ${JSON.stringify(join(dir.path, `${name}.db`))} }
  sync: { interval_sec: 3600 }
  log: { level: silent }
${extra}`,
    );
    return { path, port };
  }

  const startFrom = async (path: string) => {
    daemon = await startTestDaemon(loadConfigFile(path, process.env));
    return daemon;
  };

  it("answers 0 for a live and ready daemon over plain HTTP, reading the address from its config", async () => {
    const { path, port } = await configFile("plain.yaml", "");
    await startFrom(path);
    const live = await healthcheck(["--config", path]);
    expect(live).toMatchObject({ code: 0, stderr: "" });
    expect(live.stdout).toBe(`live: http://127.0.0.1:${port}/healthz answered 200\n`);
    const ready = await healthcheck(["--config", path, "--ready"]);
    expect(ready.code).toBe(0);
    expect(ready.stdout).toBe(`ready: http://127.0.0.1:${port}/readyz answered 200\n`);
    // --url names the daemon instead of a config.
    expect((await healthcheck(["--url", `127.0.0.1:${port}`])).code).toBe(0);
  });

  it("answers 1 with the reason for a live daemon that is not ready", async () => {
    const { path, port } = await configFile("unready.yaml", "", "", await unusedPort());
    await startFrom(path);
    expect((await healthcheck(["--config", path])).code).toBe(0);
    const ready = await healthcheck(["--config", path, "--ready"]);
    expect(ready.code).toBe(1);
    expect(ready.stdout).toBe("");
    expect(ready.stderr).toMatch(
      new RegExp(
        `^oneiric-healthd: not ready: http://127\\.0\\.0\\.1:${port}/readyz answered 503: no catalog yet: none is stored and the registry has not answered \\(`,
      ),
    );
  });

  it("answers 1 when no daemon listens, naming the address", async () => {
    const { path, port } = await configFile("down.yaml", "");
    const down = await healthcheck(["--config", path, "--timeout", "2"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(
      `oneiric-healthd: no daemon answering at http://127.0.0.1:${port}/healthz (connect ECONNREFUSED`,
    );
  });

  it("asks over HTTPS when the config serves TLS, trusting the certificate it names", async () => {
    const tls = `, tls: { cert_path: ${JSON.stringify(certs.serverCert)}, key_path: ${JSON.stringify(certs.serverKey)} }`;
    const { path, port } = await configFile("tls.yaml", tls);
    await startFrom(path);
    // No CA given: the daemon is known by the certificate its config names.
    const ready = await healthcheck(["--config", path, "--ready"]);
    expect(ready).toMatchObject({ code: 0, stderr: "" });
    expect(ready.stdout).toBe(`ready: https://127.0.0.1:${port}/readyz answered 200\n`);
    // By URL the usual checks apply: refused without the CA, answered with it.
    const url = `https://127.0.0.1:${port}`;
    const untrusted = await healthcheck(["--url", url]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toContain(`no daemon answering at ${url}/healthz (`);
    expect((await healthcheck(["--url", url], { NODE_EXTRA_CA_CERTS: certs.caCert })).code).toBe(0);
    // A daemon presenting another certificate than the config names is not this daemon.
    const other = join(dir.path, "other.yaml");
    writeFileSync(
      other,
      `healthd:\n  http: { listen: "127.0.0.1:${port}", tls: { cert_path: ${JSON.stringify(certs.clientCert)}, key_path: ${JSON.stringify(certs.clientKey)} } }\n`,
    );
    const mismatch = await healthcheck(["--config", other]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain(
      `presented a certificate other than healthd.http.tls.cert_path (${certs.clientCert}, from ${other})`,
    );
  });

  it("presents a client certificate to a daemon that requires one (mTLS), and says so without", async () => {
    const mtls = `, tls: { cert_path: ${JSON.stringify(certs.serverCert)}, key_path: ${JSON.stringify(certs.serverKey)}, client_ca_path: ${JSON.stringify(certs.caCert)} }`;
    const { path } = await configFile("mtls.yaml", mtls);
    await startFrom(path);
    const without = await healthcheck(["--config", path]);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain(
      "the daemon asks for a client certificate (healthd.http.tls.client_ca_path): pass --cert and --key",
    );
    const withCertificate = await healthcheck([
      "--config",
      path,
      "--cert",
      certs.clientCert,
      "--key",
      certs.clientKey,
    ]);
    expect(withCertificate.code).toBe(0);
  });

  it("sends ONEIRIC_HEALTHD_TOKEN when the probes are closed, and says how without it", async () => {
    const auth = `  auth:
    enabled: true
    tokens: [{ name: monitor, token: ${TOKEN}, scopes: [read] }]
    open_paths: { healthz: false }
`;
    const { path, port } = await configFile("closed.yaml", "", auth);
    await startFrom(path);
    const without = await healthcheck(["--config", path, "--ready"]);
    expect(without.code).toBe(1);
    expect(without.stderr).toBe(
      `oneiric-healthd: http://127.0.0.1:${port}/readyz answered 401: the probes need a token (healthd.auth.open_paths.healthz is false); set ONEIRIC_HEALTHD_TOKEN to a token with the read scope\n`,
    );
    const withToken = await healthcheck(["--config", path, "--ready"], {
      ONEIRIC_HEALTHD_TOKEN: TOKEN,
    });
    expect(withToken.code).toBe(0);
  });

  it("refuses bad flags with 64 and a bad config with 78", async () => {
    expect((await healthcheck(["--timeout", "soon"])).code).toBe(64);
    const half = await healthcheck(["--cert", certs.clientCert]);
    expect(half.code).toBe(64);
    expect(half.stderr).toContain("pass --cert and --key together");
    const bad = join(dir.path, "bad.yaml");
    writeFileSync(bad, "healthd:\n  http: { listen: nowhere }\n");
    const invalid = await healthcheck(["--config", bad]);
    expect(invalid.code).toBe(78);
    expect(invalid.stderr).toContain(`${bad}:2: healthd.http.listen`);
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ChannelCredentials,
  type ChannelOptions,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type GeneratedCertificates,
  generateCertificates,
} from "../../test/support/certificates.js";
import {
  HealthClient,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../gen/grpc/health/v1/health.js";
import { AdapterRegistryClient, type ListResponse } from "../gen/oneiric/registry/v1/registry.js";
import { parseScenario } from "./scenario.js";
import { type RunningSimulator, type SimulatorSecurity, startSimulator } from "./simulator.js";

const SCENARIO = parseScenario(
  [
    "project: mahavishnu",
    "adapters:",
    "  - { provider: s3, category: storage }",
    "  - { provider: gcs, category: storage, endpoint: grpc }",
  ].join("\n"),
  "security.test.yaml",
);
const S3 = "mahavishnu.adapter.storage.s3";
const GCS = "mahavishnu.adapter.storage.gcs";

const SECRET = "security-test-secret-0123456789abcdef";
const PROJECT = "mahavishnu";

const CHANNEL_OPTIONS: ChannelOptions = {
  // Each client gets its own connection: the global subchannel pool would otherwise let one
  // test's (failed or authenticated) connection answer another test's call.
  "grpc.use_local_subchannel_pool": 1,
};
// A failed handshake fails the call fast (no waitForReady); the deadline only guards a hang.
const DEADLINE_MS = 5_000;

let certs: GeneratedCertificates;
let pem: {
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  wrongCa: Buffer;
  wrongClientCert: Buffer;
  wrongClientKey: Buffer;
};

beforeAll(() => {
  certs = generateCertificates(mkdtempSync(join(tmpdir(), "oneiric-healthd-certs-")));
  pem = {
    ca: certs.read(certs.caCert),
    serverCert: certs.read(certs.serverCert),
    serverKey: certs.read(certs.serverKey),
    clientCert: certs.read(certs.clientCert),
    clientKey: certs.read(certs.clientKey),
    wrongCa: certs.read(certs.wrongCaCert),
    wrongClientCert: certs.read(certs.wrongClientCert),
    wrongClientKey: certs.read(certs.wrongClientKey),
  };
});

afterAll(() => {
  if (certs !== undefined) rmSync(certs.dir, { recursive: true, force: true });
});

const running: RunningSimulator[] = [];
const clients: Array<{ close(): void }> = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(running.splice(0).map((sim) => sim.stop()));
});

async function start(security: SimulatorSecurity): Promise<RunningSimulator> {
  const sim = await startSimulator({ scenario: SCENARIO, listen: "127.0.0.1:0", security });
  running.push(sim);
  return sim;
}

// 127.0.0.1 rather than localhost, which may resolve to ::1 first; the server certificate
// carries IP:127.0.0.1 in its subjectAltName, so hostname verification still applies.
function registryClient(sim: RunningSimulator, creds: ChannelCredentials): AdapterRegistryClient {
  const client = new AdapterRegistryClient(sim.registryAddress, creds, CHANNEL_OPTIONS);
  clients.push(client);
  return client;
}

function healthClient(sim: RunningSimulator, creds: ChannelCredentials): HealthClient {
  const client = new HealthClient(sim.registryAddress, creds, CHANNEL_OPTIONS);
  clients.push(client);
  return client;
}

function listAdapters(client: AdapterRegistryClient, token?: string): Promise<ListResponse> {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    client.listAdapters(
      { domain: "", category: "", project: "", healthyOnly: false },
      metadata,
      { deadline: Date.now() + DEADLINE_MS },
      (error, response) => (error ? reject(error) : resolve(response)),
    );
  });
}

function healthCheck(client: HealthClient, service: string): Promise<ServingStatus> {
  return new Promise((resolve, reject) => {
    client.check(
      { service },
      new Metadata(),
      { deadline: Date.now() + DEADLINE_MS },
      (error, response) => (error ? reject(error) : resolve(response.status)),
    );
  });
}

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error("expected the call to fail");
}

function sign(
  claims: Record<string, unknown>,
  options: { secret?: string; expiresAtSec?: number } = {},
): Promise<string> {
  const nowSec = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt(nowSec - 60)
    .setExpirationTime(options.expiresAtSec ?? nowSec + 300)
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

const ids = (response: ListResponse) => response.adapters.map((a) => a.adapterId).sort();

describe("simulator over TLS", () => {
  const tls = () => ({ certPem: pem.serverCert, keyPem: pem.serverKey });

  it("serves the registry to a client that trusts the CA", async () => {
    const sim = await start({ tls: tls() });
    const client = registryClient(sim, credentials.createSsl(pem.ca));
    expect(ids(await listAdapters(client))).toEqual([GCS, S3]);
  });

  it("also verifies the server by name with localhost", async () => {
    const sim = await start({ tls: tls() });
    const client = registryClient(sim, credentials.createSsl(pem.ca));
    // ssl_target_name_override makes the client check the certificate against "localhost"
    // while still dialling 127.0.0.1, so the DNS SAN is exercised without resolver quirks.
    const byName = new AdapterRegistryClient(sim.registryAddress, credentials.createSsl(pem.ca), {
      ...CHANNEL_OPTIONS,
      "grpc.ssl_target_name_override": "localhost",
    });
    clients.push(byName);
    expect(ids(await listAdapters(byName))).toEqual(ids(await listAdapters(client)));
  });

  it("fails UNAVAILABLE for a client that trusts another CA", async () => {
    const sim = await start({ tls: tls() });
    const client = registryClient(sim, credentials.createSsl(pem.wrongCa));
    const error = await failure(listAdapters(client));
    expect(error.code).toBe(status.UNAVAILABLE);
    // The client's own verification fails, which is deterministic, unlike a server-side alert.
    expect(error.details).toMatch(/unable to verify/);
  });

  it("fails UNAVAILABLE for a plaintext client", async () => {
    const sim = await start({ tls: tls() });
    const client = registryClient(sim, credentials.createInsecure());
    expect((await failure(listAdapters(client))).code).toBe(status.UNAVAILABLE);
  });

  it("advertises the gRPC health endpoints as grpcs:// and keeps HTTP ones plain", async () => {
    const sim = await start({ tls: tls() });
    const urls = Object.fromEntries(sim.adapters.map((a) => [a.adapterId, a.healthCheckUrl]));
    expect(urls[GCS]).toBe(`grpcs://127.0.0.1:${sim.registryPort}/${GCS}`);
    expect(urls[S3]).toBe(`http://127.0.0.1:${sim.httpPort}/health/${encodeURIComponent(S3)}`);
    const response = await fetch(urls[S3] as string);
    expect(response.status).toBe(200);
  });
});

describe("simulator with mTLS", () => {
  const mtls = () => ({ certPem: pem.serverCert, keyPem: pem.serverKey, clientCaPem: pem.ca });

  it("serves a client presenting a certificate from the client CA", async () => {
    const sim = await start({ tls: mtls() });
    const client = registryClient(
      sim,
      credentials.createSsl(pem.ca, pem.clientKey, pem.clientCert),
    );
    expect(ids(await listAdapters(client))).toEqual([GCS, S3]);
  });

  it("refuses a client without a certificate", async () => {
    const sim = await start({ tls: mtls() });
    const client = registryClient(sim, credentials.createSsl(pem.ca));
    expect((await failure(listAdapters(client))).code).toBe(status.UNAVAILABLE);
  });

  it("refuses a client certificate signed by another CA", async () => {
    const sim = await start({ tls: mtls() });
    const client = registryClient(
      sim,
      credentials.createSsl(pem.ca, pem.wrongClientKey, pem.wrongClientCert),
    );
    expect((await failure(listAdapters(client))).code).toBe(status.UNAVAILABLE);
  });
});

describe("simulator requiring a JWT (with TLS and mTLS)", () => {
  let sim: RunningSimulator;
  let registry: AdapterRegistryClient;
  let health: HealthClient;

  const startSecured = async (jwt: SimulatorSecurity["jwt"]) => {
    sim = await start({
      tls: { certPem: pem.serverCert, keyPem: pem.serverKey, clientCaPem: pem.ca },
      jwt,
    });
    const creds = credentials.createSsl(pem.ca, pem.clientKey, pem.clientCert);
    registry = registryClient(sim, creds);
    health = healthClient(sim, creds);
  };

  it("accepts a valid token", async () => {
    await startSecured({ secret: SECRET });
    expect(ids(await listAdapters(registry, await sign({ sub: "healthd" })))).toEqual([GCS, S3]);
  });

  it("answers UNAUTHENTICATED missing bearer token without one", async () => {
    await startSecured({ secret: SECRET });
    const error = await failure(listAdapters(registry));
    expect(error.code).toBe(status.UNAUTHENTICATED);
    expect(error.details).toBe("missing bearer token");
  });

  it("names a token signed with another secret, without echoing it", async () => {
    await startSecured({ secret: SECRET });
    const token = await sign({}, { secret: "not-the-simulator-secret-abcdefgh" });
    const error = await failure(listAdapters(registry, token));
    expect(error.code).toBe(status.UNAUTHENTICATED);
    expect(error.details).toBe("token signature invalid");
    expect(error.message).not.toContain(token);
    expect(error.message).not.toContain(SECRET);
  });

  it("names an expired token", async () => {
    await startSecured({ secret: SECRET });
    const token = await sign({}, { expiresAtSec: Math.floor(Date.now() / 1000) - 60 });
    const error = await failure(listAdapters(registry, token));
    expect(error.code).toBe(status.UNAUTHENTICATED);
    expect(error.details).toBe("token expired");
  });

  it("names a malformed token", async () => {
    await startSecured({ secret: SECRET });
    const error = await failure(listAdapters(registry, "not.a.jwt"));
    expect(error.code).toBe(status.UNAUTHENTICATED);
    expect(error.details).toBe("token malformed");
  });

  it("checks the project claim when configured", async () => {
    await startSecured({ secret: SECRET, project: PROJECT });
    expect(ids(await listAdapters(registry, await sign({ project: PROJECT })))).toEqual([GCS, S3]);
    const error = await failure(listAdapters(registry, await sign({ project: "crackerjack" })));
    expect(error.code).toBe(status.UNAUTHENTICATED);
    expect(error.details).toBe(`token project "crackerjack" does not match "${PROJECT}"`);
  });

  it("guards every registry RPC, not only ListAdapters", async () => {
    await startSecured({ secret: SECRET });
    const error = await failure(
      new Promise((resolve, reject) =>
        registry.getAdapter({ adapterId: S3 }, (e, response) =>
          e ? reject(e) : resolve(response),
        ),
      ),
    );
    expect(error.code).toBe(status.UNAUTHENTICATED);
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${await sign({})}`);
    const response = await new Promise((resolve, reject) =>
      registry.heartbeat({ adapterId: S3 }, metadata, (e, r) => (e ? reject(e) : resolve(r))),
    );
    expect(response).toEqual({ registered: true });
  });

  it("leaves grpc.health.v1 open: Check needs no token", async () => {
    await startSecured({ secret: SECRET });
    expect(await healthCheck(health, "")).toBe(ServingStatus.SERVING);
    expect(await healthCheck(health, GCS)).toBe(ServingStatus.SERVING);
  });
});

describe("simulator security options", () => {
  it("refuses an empty JWT secret before binding anything", async () => {
    await expect(start({ jwt: { secret: "" } })).rejects.toThrow(/must not be empty/);
  });

  it("refuses a certificate that is not PEM", async () => {
    await expect(start({ tls: { certPem: "garbage", keyPem: pem.serverKey } })).rejects.toThrow(
      /^invalid TLS certificate or key: /,
    );
  });

  it("refuses a key that does not belong to the certificate", async () => {
    await expect(
      start({ tls: { certPem: pem.serverCert, keyPem: pem.clientKey } }),
    ).rejects.toThrow(/^invalid TLS certificate or key: .*mismatch/);
  });

  it("refuses a client CA that is not a certificate", async () => {
    await expect(
      start({ tls: { certPem: pem.serverCert, keyPem: pem.serverKey, clientCaPem: "nope" } }),
    ).rejects.toThrow(/^invalid TLS client CA certificate: /);
  });

  it("accepts PEM given as strings", async () => {
    const sim = await start({
      tls: {
        certPem: pem.serverCert.toString(),
        keyPem: pem.serverKey.toString(),
        clientCaPem: pem.ca.toString(),
      },
    });
    const client = registryClient(
      sim,
      credentials.createSsl(pem.ca, pem.clientKey, pem.clientCert),
    );
    expect(ids(await listAdapters(client))).toEqual([GCS, S3]);
  });
});

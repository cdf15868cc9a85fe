import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { ClusterOptionError } from "./cluster-option-error.js";
import { NatsLink, type NatsLinkOptions } from "./nats-link.js";

const dir = mkdtempSync(join(tmpdir(), "healthd-nats-link-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function options(overrides: Partial<NatsLinkOptions>): NatsLinkOptions {
  return {
    servers: ["nats://127.0.0.1:4222"],
    connectionName: "oneiric-healthd test/a",
    logger: pino({ level: "silent" }),
    ...overrides,
  };
}

/** The option and problem a construction fails with. */
function rejection(overrides: Partial<NatsLinkOptions>) {
  try {
    new NatsLink(options(overrides));
  } catch (error) {
    if (error instanceof ClusterOptionError) {
      return { code: error.code, option: error.option, message: error.message };
    }
    throw error;
  }
  throw new Error("the options were accepted");
}

function credentials(seed: string): string {
  return [
    "-----BEGIN NATS USER JWT-----",
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln",
    "------END NATS USER JWT------",
    "",
    "-----BEGIN USER NKEY SEED-----",
    seed,
    "------END USER NKEY SEED------",
    "",
  ].join("\n");
}

describe("NatsLink options", () => {
  it("accepts the three address forms, a port left out, and IPv6 in brackets", () => {
    for (const servers of [
      ["nats://127.0.0.1:4222", "127.0.0.1:4223", "nats-1.example.com"],
      ["tls://nats.example.com:4443"],
      ["nats://[::1]:4222"],
    ]) {
      const link = new NatsLink(options({ servers }));
      expect(link.state()).toBe("connecting");
      expect(link.status()).toMatchObject({ state: "connecting", lastError: null, reconnects: 0 });
    }
  });

  it.each([
    [[], "servers", "servers: at least one NATS server address is needed"],
    [
      ["nats://a:4222", "http://b:4222"],
      "servers[1]",
      'servers[1]: "http://b:4222": the scheme must be nats:// or tls://, not http://',
    ],
    [
      ["nats://user:secret@a:4222"],
      "servers[0]",
      "servers[0]: an address must not carry credentials (user@host); give a .creds file in credentialsPath",
    ],
    [["a:99999"], "servers[0]", 'servers[0]: "a:99999": port 99999 is out of range'],
    [
      ["nats://a:4222/path"],
      "servers[0]",
      'servers[0]: "nats://a:4222/path" is not a NATS server address (nats://host:port, tls://host:port or host:port)',
    ],
    [
      ["nats://a:4222", "tls://b:4222"],
      "servers",
      "servers: mixes nats:// and tls:// addresses; one connection uses TLS with every server or with none",
    ],
  ])("rejects servers %j, naming %s", (servers, option, message) => {
    expect(rejection({ servers })).toEqual({ code: "CLUSTER_OPTION_INVALID", option, message });
  });

  it("rejects an empty connection name", () => {
    expect(rejection({ connectionName: " " }).option).toBe("connectionName");
  });

  it("needs a client certificate's key, and readable TLS files", () => {
    const cert = file("client.pem", "not checked here");
    expect(rejection({ tls: { certPath: cert } })).toMatchObject({
      option: "tls.keyPath",
      message: "tls.keyPath: a client certificate needs both tls.certPath and tls.keyPath",
    });
    expect(rejection({ tls: { keyPath: cert } }).option).toBe("tls.certPath");
    const missing = join(dir, "missing-ca.pem");
    expect(rejection({ tls: { caPath: missing } })).toMatchObject({
      option: "tls.caPath",
      message: expect.stringMatching(/^tls\.caPath: cannot read .*missing-ca\.pem: ENOENT/),
    });
    expect(new NatsLink(options({ tls: { caPath: cert } })).state()).toBe("connecting");
  });

  it("reads the credentials file up front and rejects one that is missing or not credentials", () => {
    expect(rejection({ credentialsPath: join(dir, "missing.creds") })).toMatchObject({
      option: "credentialsPath",
      message: expect.stringMatching(/^credentialsPath: cannot read .*missing\.creds: ENOENT/),
    });
    const garbage = file("garbage.creds", "hello");
    expect(rejection({ credentialsPath: garbage })).toMatchObject({
      option: "credentialsPath",
      message: `credentialsPath: ${garbage} is not a NATS credentials file: unable to parse credentials`,
    });
    const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
    const good = file("user.creds", credentials(seed));
    expect(new NatsLink(options({ credentialsPath: good })).state()).toBe("connecting");
  });

  it("closes at once when it never started", async () => {
    const link = new NatsLink(options({}));
    const states: string[] = [];
    link.onState((state) => states.push(state));
    await link.close();
    expect(link.state()).toBe("closed");
    expect(states).toEqual(["closed"]);
    link.start();
    expect(link.state()).toBe("closed");
  });
});

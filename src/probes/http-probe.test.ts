import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type GeneratedCertificates,
  generateCertificates,
} from "../../test/support/certificates.js";
import { HttpProbe, probeUserAgent } from "./http-probe.js";

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const routes: Record<string, Handler> = {
  "/ok": (_request, response) => {
    response.setHeader("content-type", "application/json");
    response.end('{"status":"ok"}');
  },
  "/no-content": (_request, response) => {
    response.statusCode = 204;
    response.end();
  },
  "/down": (_request, response) => {
    response.statusCode = 503;
    response.end("unavailable");
  },
  "/moved": (_request, response) => {
    response.writeHead(302, { location: "/ok" });
    response.end();
  },
  "/hang": () => {
    // Never answers.
  },
  "/stall-body": (_request, response) => {
    response.writeHead(200, { "content-type": "text/plain" });
    response.write("partial");
    // Never ends the body.
  },
  "/huge": (_request, response) => {
    response.writeHead(200, { "content-type": "application/octet-stream" });
    response.end(Buffer.alloc(256 * 1024, 120));
  },
  "/huge-marked": (_request, response) => {
    // "early" sits inside the first 64 KiB, "late" only past it.
    response.writeHead(200, { "content-type": "text/plain" });
    response.end(`early${"x".repeat(100 * 1024)}late`);
  },
  "/split-utf8": (_request, response) => {
    // "café" with the two bytes of "é" sent in separate writes.
    const bytes = Buffer.from('{"status":"café"}');
    const cut = bytes.indexOf(0xc3) + 1;
    response.writeHead(200, { "content-type": "application/json" });
    response.write(bytes.subarray(0, cut));
    setTimeout(() => response.end(bytes.subarray(cut)), 10);
  },
};

let server: Server;
let base: string;
let connections: number;
let requests: IncomingMessage[];
let probe: HttpProbe;

beforeEach(async () => {
  connections = 0;
  requests = [];
  server = createServer((request, response) => {
    requests.push(request);
    const handler = routes[request.url ?? ""];
    if (handler) handler(request, response);
    else {
      response.statusCode = 404;
      response.end();
    }
  });
  server.on("connection", () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  probe = new HttpProbe();
});

afterEach(async () => {
  probe.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const spare = createServer();
  await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
  const { port } = spare.address() as AddressInfo;
  await new Promise<void>((resolve) => spare.close(() => resolve()));
  return port;
}

describe("HttpProbe", () => {
  it("reports a 200 answer as ok, with its latency", async () => {
    const result = await probe.check(`${base}/ok`, 2000);
    expect(result.ok).toBe(true);
    expect(result.detail).toBe("HTTP 200");
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(requests[0]?.method).toBe("GET");
    expect(requests[0]?.headers["user-agent"]).toBe("oneiric-healthd");
  });

  it("names a cluster member in its user agent", async () => {
    const member = new HttpProbe(16, undefined, probeUserAgent("b"));
    try {
      await member.check(`${base}/ok`, 2000);
      expect(requests.at(-1)?.headers["user-agent"]).toBe("oneiric-healthd (member b)");
    } finally {
      member.close();
    }
  });

  it("counts any 2xx as ok", async () => {
    expect(await probe.check(`${base}/no-content`, 2000)).toMatchObject({
      ok: true,
      detail: "HTTP 204",
    });
  });

  it("reports a 503 answer as not ok, naming the status", async () => {
    expect(await probe.check(`${base}/down`, 2000)).toMatchObject({
      ok: false,
      detail: "HTTP 503",
    });
  });

  it("does not follow redirects: a 302 is not ok", async () => {
    expect(await probe.check(`${base}/moved`, 2000)).toMatchObject({
      ok: false,
      detail: "HTTP 302",
    });
    expect(requests.map((request) => request.url)).toEqual(["/moved"]);
  });

  it("gives up on a handler that never answers, naming the timeout", async () => {
    const result = await probe.check(`${base}/hang`, 100);
    expect(result).toMatchObject({ ok: false, detail: "no answer within 100 ms" });
    expect(requests).toHaveLength(1);
  });

  it("gives up on a body that never ends", async () => {
    const result = await probe.check(`${base}/stall-body`, 100);
    expect(result).toMatchObject({ ok: false, detail: "no answer within 100 ms" });
  });

  it("stops reading an oversized body and still reports the status", async () => {
    expect(await probe.check(`${base}/huge`, 2000)).toMatchObject({
      ok: true,
      detail: "HTTP 200",
    });
  });

  describe("with expectBody", () => {
    it("passes a 2xx whose body contains the text", async () => {
      expect(await probe.check(`${base}/ok`, 2000, { expectBody: '"status":"ok"' })).toMatchObject({
        ok: true,
        detail: "HTTP 200",
      });
    });

    it("fails a 2xx whose body lacks the text, quoting it", async () => {
      expect(await probe.check(`${base}/ok`, 2000, { expectBody: '"status":"up"' })).toMatchObject({
        ok: false,
        detail: 'HTTP 200, body lacks "\\"status\\":\\"up\\""',
      });
    });

    it("fails an empty 2xx body", async () => {
      expect(await probe.check(`${base}/no-content`, 2000, { expectBody: "ok" })).toMatchObject({
        ok: false,
        detail: 'HTTP 204, body lacks "ok"',
      });
    });

    it("leaves a non-2xx failing on its status, whatever the body says", async () => {
      expect(await probe.check(`${base}/down`, 2000, { expectBody: "unavailable" })).toMatchObject({
        ok: false,
        detail: "HTTP 503",
      });
    });

    it("searches only the first 64 KiB of a large body", async () => {
      expect(await probe.check(`${base}/huge-marked`, 2000, { expectBody: "early" })).toMatchObject(
        { ok: true, detail: "HTTP 200" },
      );
      expect(await probe.check(`${base}/huge-marked`, 2000, { expectBody: "late" })).toMatchObject({
        ok: false,
        detail: 'HTTP 200, body lacks "late"',
      });
    });

    it("matches text whose multi-byte character is split across chunks", async () => {
      expect(await probe.check(`${base}/split-utf8`, 2000, { expectBody: "café" })).toMatchObject({
        ok: true,
        detail: "HTTP 200",
      });
    });

    it("still times out on a body that never ends", async () => {
      expect(await probe.check(`${base}/stall-body`, 100, { expectBody: "partial" })).toMatchObject(
        { ok: false, detail: "no answer within 100 ms" },
      );
    });

    it("treats an empty expected text as always present", async () => {
      expect(await probe.check(`${base}/no-content`, 2000, { expectBody: "" })).toMatchObject({
        ok: true,
        detail: "HTTP 204",
      });
    });
  });

  it("reports a refused connection as not ok", async () => {
    const port = await closedPort();
    const result = await probe.check(`http://127.0.0.1:${port}/health`, 2000);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^ECONNREFUSED: /);
  });

  it("reuses keep-alive connections across sequential checks", async () => {
    // undici's pool may open a second connection for a request sent while the first was
    // still connecting; from then on the open ones are reused.
    for (let round = 0; round < 2; round++) {
      expect(await probe.check(`${base}/ok`, 2000)).toMatchObject({ ok: true });
    }
    const opened = connections;
    expect(opened).toBeLessThanOrEqual(2);
    for (let round = 0; round < 8; round++) {
      expect(await probe.check(`${base}/ok`, 2000)).toMatchObject({ ok: true });
    }
    expect(await probe.check(`${base}/down`, 2000)).toMatchObject({ ok: false });
    expect(requests).toHaveLength(11);
    expect(connections).toBe(opened);
  });

  it("measures latency from when the request was written, and says when that was", async () => {
    const before = performance.now();
    const result = await probe.check(`${base}/ok`, 2000);
    const after = performance.now();
    expect(result.writtenAt).toBeGreaterThanOrEqual(before);
    expect((result.writtenAt ?? 0) + result.latencyMs).toBeLessThanOrEqual(after);
  });

  it("resolves (never rejects) for targets it cannot request", async () => {
    expect(await probe.check("not a url", 100)).toMatchObject({
      ok: false,
      detail: "invalid URL",
    });
    const wrongScheme = await probe.check("grpc://127.0.0.1:50051/svc", 100);
    expect(wrongScheme.ok).toBe(false);
    expect(wrongScheme.detail).toMatch(/^ERR_INVALID_PROTOCOL: /);
  });
});

describe("HttpProbe over https", () => {
  let certDir: string;
  let certs: GeneratedCertificates;
  let tlsServer: HttpsServer;
  let tlsBase: string;

  beforeAll(() => {
    certDir = mkdtempSync(join(tmpdir(), "http-probe-tls-"));
    certs = generateCertificates(certDir);
  });

  afterAll(() => rmSync(certDir, { recursive: true, force: true }));

  beforeEach(async () => {
    tlsServer = createHttpsServer(
      { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) },
      (_request, response) => response.end("ok"),
    );
    await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
    tlsBase = `https://localhost:${(tlsServer.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    tlsServer.closeAllConnections();
    await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
  });

  it("checks over TLS, verifying the certificate against the CA it is given", async () => {
    const trusting = new HttpProbe(16, { ca: certs.read(certs.caCert) });
    try {
      expect(await trusting.check(`${tlsBase}/health`, 5000, { expectBody: "ok" })).toMatchObject({
        ok: true,
        detail: "HTTP 200",
      });
    } finally {
      trusting.close();
    }
  });

  it("refuses a certificate Node's CA store does not trust", async () => {
    const result = await probe.check(`${tlsBase}/health`, 5000);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/certificate|self-signed|verify/i);
  });
});

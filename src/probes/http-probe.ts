import http from "node:http";
import https from "node:https";
import {
  describeError,
  elapsedSince,
  type Probe,
  type ProbeOptions,
  type ProbeResult,
} from "./probe.js";

/** Bodies past this size are not read further: a health answer is small. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Probes an `http(s)://` health URL: a 2xx answer within the deadline is healthy, and with
 * `expectBody` its body (the first 64 KiB of it) must also contain that text.
 * Keep-alive agents reuse connections, so a probe round does not open one socket
 * per adapter each time.
 */
export class HttpProbe implements Probe {
  readonly kind = "http";
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(maxSocketsPerHost = 16) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: maxSocketsPerHost });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: maxSocketsPerHost });
  }

  check(target: string, timeoutMs: number, options?: ProbeOptions): Promise<ProbeResult> {
    const expectBody = options?.expectBody;
    const startedAt = performance.now();
    return new Promise<ProbeResult>((resolve) => {
      let settled = false;
      // Declared before finish() can run: an early failure must not hit the TDZ.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (ok: boolean, detail: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ok, latencyMs: elapsedSince(startedAt), detail });
      };
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        finish(false, "invalid URL");
        return;
      }
      const secure = url.protocol === "https:";
      let request: http.ClientRequest;
      try {
        request = (secure ? https : http).request(url, {
          method: "GET",
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: {
            accept: "application/json, text/plain;q=0.9, */*;q=0.1",
            "user-agent": "oneiric-healthd",
          },
        });
      } catch (error) {
        // e.g. ERR_INVALID_PROTOCOL for a non-http(s) URL: a result, not a rejection.
        finish(false, describeError(error));
        return;
      }
      timer = setTimeout(() => {
        finish(false, `no answer within ${timeoutMs} ms`);
        request.destroy();
      }, timeoutMs);
      request.on("error", (error) => finish(false, describeError(error)));
      request.on("response", (response) => {
        let received = 0;
        // Kept only when the body is to be searched; otherwise it is read and dropped.
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => {
          if (expectBody !== undefined && received < MAX_BODY_BYTES) {
            chunks.push(chunk.subarray(0, MAX_BODY_BYTES - received));
          }
          received += chunk.length;
          if (received > MAX_BODY_BYTES) response.destroy();
        });
        const status = response.statusCode ?? 0;
        const done = () => {
          const success = status >= 200 && status < 300;
          // Searched as bytes, not decoded text, so a multi-byte character split across
          // chunks still matches.
          if (success && expectBody !== undefined && !Buffer.concat(chunks).includes(expectBody)) {
            finish(false, `HTTP ${status}, body lacks ${JSON.stringify(expectBody)}`);
            return;
          }
          finish(success, `HTTP ${status}`);
        };
        response.on("end", done);
        response.on("close", done);
        response.on("error", (error) => finish(false, describeError(error)));
      });
      request.end();
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

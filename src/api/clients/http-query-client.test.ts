import { describe, expect, it } from "vitest";
import { HttpQueryBackend, normalizeDaemonUrl, SseParser } from "./http-query-client.js";

describe("SseParser", () => {
  it("dispatches on a blank line, skips comments and joins data lines", () => {
    const parser = new SseParser();
    expect(
      parser.push(
        ': heartbeat\n\nretry: 2000\nid: 7\nevent: adapter.discovered\ndata: {"a":\ndata: 1}\n\n',
      ),
    ).toEqual([{ id: "7", event: "adapter.discovered", data: '{"a":\n1}', retry: 2000 }]);
  });

  it("keeps an unfinished message across chunks, whatever the line endings", () => {
    const parser = new SseParser();
    expect(parser.push("id: 1\r")).toEqual([]);
    expect(parser.push("\ndata: x")).toEqual([]);
    expect(parser.push("\r\n\r")).toEqual([]);
    expect(parser.push("\nid: 2\rdata: y\r\r\n")).toEqual([
      { id: "1", data: "x" },
      { id: "2", data: "y" },
    ]);
  });

  it("reports an event without data (overflow) and ignores a lone id", () => {
    const parser = new SseParser();
    expect(parser.push("id: 3\n\nevent: overflow\n\n")).toEqual([{ id: "3", event: "overflow" }]);
  });
});

describe("normalizeDaemonUrl", () => {
  it("accepts HOST:PORT and URLs, without a trailing slash", () => {
    expect(normalizeDaemonUrl("127.0.0.1:8681")).toBe("http://127.0.0.1:8681");
    expect(normalizeDaemonUrl("https://healthd.example/")).toBe("https://healthd.example");
    expect(normalizeDaemonUrl("http://[::1]:8681/base/")).toBe("http://[::1]:8681/base");
    expect(() => normalizeDaemonUrl("grpc://x:1")).toThrow(/http or https/);
  });
});

describe("HttpQueryBackend with a token", () => {
  it("sends it as a bearer token on queries, and none without one", async () => {
    const seen: (string | null)[] = [];
    const fakeFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
      seen.push(new Headers(init?.headers).get("authorization"));
      return new Response(JSON.stringify({ invalidated: true }), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }) as typeof fetch;
    await new HttpQueryBackend("127.0.0.1:8681", {
      token: "t0ken-t0ken-t0ken",
      fetch: fakeFetch,
    }).invalidateCache();
    await new HttpQueryBackend("127.0.0.1:8681", { fetch: fakeFetch }).invalidateCache();
    expect(seen).toEqual(["Bearer t0ken-t0ken-t0ken", null]);
  });
});

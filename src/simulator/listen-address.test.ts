import { describe, expect, it } from "vitest";
import { connectableHost, formatHostPort, parseListenAddress } from "./listen-address.js";

describe("parseListenAddress", () => {
  it("parses host:port, IPv6 in brackets and port 0", () => {
    expect(parseListenAddress("127.0.0.1:8679")).toEqual({ host: "127.0.0.1", port: 8679 });
    expect(parseListenAddress("localhost:0")).toEqual({ host: "localhost", port: 0 });
    expect(parseListenAddress("[::1]:8680")).toEqual({ host: "::1", port: 8680 });
    expect(parseListenAddress("0.0.0.0:65535")).toEqual({ host: "0.0.0.0", port: 65535 });
  });

  it("rejects anything else with the expected form", () => {
    for (const bad of [
      "8679",
      ":8679",
      "localhost",
      "host:",
      "host:65536",
      "::1:80",
      "a b:1",
      "h:-1",
    ]) {
      expect(() => parseListenAddress(bad), bad).toThrow(
        `invalid listen address "${bad}": expected HOST:PORT`,
      );
    }
  });
});

describe("formatHostPort", () => {
  it("brackets IPv6 hosts only", () => {
    expect(formatHostPort("127.0.0.1", 80)).toBe("127.0.0.1:80");
    expect(formatHostPort("::1", 80)).toBe("[::1]:80");
  });
});

describe("connectableHost", () => {
  it("replaces wildcard addresses by loopback", () => {
    expect(connectableHost("0.0.0.0")).toBe("127.0.0.1");
    expect(connectableHost("::")).toBe("::1");
    expect(connectableHost("10.0.0.5")).toBe("10.0.0.5");
  });
});

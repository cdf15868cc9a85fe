import { describe, expect, it } from "vitest";
import {
  readSessionCookie,
  SESSION_MAX_AGE_SEC,
  sessionCookie,
  sessionMaxAgeSec,
} from "./session-cookie.js";

describe("the session cookie", () => {
  it("is read by its name among others, and only with a token's shape", () => {
    const header = "theme=dark; oneiric_healthd_session=abc.DEF-123_~+/=; other=1";
    expect(readSessionCookie(header, false)).toBe("abc.DEF-123_~+/=");
    expect(readSessionCookie("oneiric_healthd_session=a,b", false)).toBeUndefined();
    expect(readSessionCookie("oneiric_healthd_session=", false)).toBeUndefined();
    expect(readSessionCookie(undefined, false)).toBeUndefined();
  });

  it("takes the __Host- name over HTTPS, and only that one", () => {
    const header = "oneiric_healthd_session=plain-token-value";
    expect(readSessionCookie(header, true)).toBeUndefined();
    expect(readSessionCookie(`__Host-${header}`, true)).toBe("plain-token-value");
    expect(sessionCookie("t0ken", true, 60)).toBe(
      "__Host-oneiric_healthd_session=t0ken; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure",
    );
  });

  it("lasts eight hours, or until the token's expiry when that is sooner", () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    expect(sessionMaxAgeSec(undefined, now)).toBe(SESSION_MAX_AGE_SEC);
    expect(sessionMaxAgeSec(now + 90_500, now)).toBe(90);
    expect(sessionMaxAgeSec(now + 48 * 3_600_000, now)).toBe(SESSION_MAX_AGE_SEC);
    expect(sessionMaxAgeSec(now - 1_000, now)).toBe(0);
  });
});

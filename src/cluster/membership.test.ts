import pino from "pino";
import { describe, expect, it } from "vitest";
import { ClusterOptionError } from "./cluster-option-error.js";
import { Membership, type MembershipOptions, membersBucketName } from "./membership.js";
import { NatsLink } from "./nats-link.js";

const logger = pino({ level: "silent" });

function options(overrides: Partial<MembershipOptions>): MembershipOptions {
  return {
    // Never started: these tests need no NATS.
    link: new NatsLink({ servers: ["127.0.0.1:4222"], connectionName: "test", logger }),
    cluster: "prod-eu_1",
    instanceId: "healthd-1",
    leaseTtlMs: 10_000,
    logger,
    ...overrides,
  };
}

function rejection(overrides: Partial<MembershipOptions>) {
  try {
    new Membership(options(overrides));
  } catch (error) {
    if (error instanceof ClusterOptionError)
      return { option: error.option, message: error.message };
    throw error;
  }
  throw new Error("the options were accepted");
}

describe("Membership options", () => {
  it("names the bucket after the cluster", () => {
    expect(membersBucketName("prod-eu_1")).toBe("healthd_prod-eu_1_members");
  });

  it.each([
    [{ cluster: "prod.eu" }, "cluster"],
    [{ cluster: "" }, "cluster"],
    [{ instanceId: "a b" }, "instanceId"],
    [{ instanceId: ".a" }, "instanceId"],
    [{ instanceId: "a." }, "instanceId"],
    [{ instanceId: "a*" }, "instanceId"],
    [{ leaseTtlMs: 999 }, "leaseTtlMs"],
    [{ leaseTtlMs: Number.NaN }, "leaseTtlMs"],
    [{ initialMembers: ["healthd-2", "bad id"] }, "initialMembers[1]"],
  ])("rejects %j, naming %s", (overrides, option) => {
    const { option: named, message } = rejection(overrides);
    expect(named).toBe(option);
    expect(message.startsWith(`${option}: `)).toBe(true);
  });

  it("before any NATS: itself and the assumed members, not settled, no lease", async () => {
    const membership = new Membership(
      options({ initialMembers: ["healthd-3", "healthd-2", "healthd-1"] }),
    );
    expect(membership.members()).toEqual(["healthd-1", "healthd-2", "healthd-3"]);
    membership.start();
    expect(membership.status()).toEqual({
      joined: false,
      leaseRevision: null,
      fencedCount: 0,
      members: ["healthd-1", "healthd-2", "healthd-3"],
    });
    expect(await membership.settled(50)).toBe(false);
    await membership.stop();
    expect(membership.members()).toEqual(["healthd-1", "healthd-2", "healthd-3"]);
  });

  it("accepts ids with dots, slashes and equals signs inside", () => {
    const membership = new Membership(options({ instanceId: "host-1.zone=a/b_2" }));
    expect(membership.members()).toEqual(["host-1.zone=a/b_2"]);
  });
});

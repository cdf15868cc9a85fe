import { afterAll, describe, expect, it } from "vitest";
import {
  type ClusterStack,
  clusterStack,
  type ListedAdapter,
  type MemberProcess,
  probersBetween,
  StreamRecorder,
  stopClusterStack,
  until,
} from "./support/cluster-stack.js";

/**
 * Three members of one cluster over one simulator with 3,000 adapters and a real
 * nats-server (docs/scale-out.md). The lease TTL is the default, 10 s; checks every
 * 5 s. Each step asserts what the issue asks and prints what it measured.
 */
const ADAPTERS = 3_000;
const INTERVAL_MS = 5_000;
const LEASE_TTL_MS = 10_000;
/** Checks are jittered up to this fraction of the interval later. */
const JITTER = 0.25;

let stack: ClusterStack | undefined;
const recorder = new StreamRecorder();

afterAll(async () => {
  await recorder.stop();
  await stopClusterStack(stack);
});

function ownersOf(adapters: readonly ListedAdapter[]): Map<string, number> {
  const owners = new Map<string, number>();
  for (const adapter of adapters) {
    const owner = adapter.owner ?? "(none)";
    owners.set(owner, (owners.get(owner) ?? 0) + 1);
  }
  return owners;
}

/**
 * Who checked each adapter over `windowMs`: `twice` lists adapters two members
 * checked, `unprobed` those nobody checked although their breaker is closed (an
 * open breaker waits longer than the window between checks, so those may be skipped).
 */
async function probedByExactlyOne(members: readonly MemberProcess[], windowMs: number) {
  const simulator = (stack as ClusterStack).simulator;
  const before = simulator.probeCounts();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const probers = probersBetween(before, simulator.probeCounts());
  const listed = await (members[0] as MemberProcess).adapters();
  const twice = [...probers].filter(([, who]) => who.length > 1);
  const unprobed = listed
    .filter((adapter) => adapter.breaker === "closed" && !probers.get(adapter.adapter_id)?.length)
    .map((adapter) => adapter.adapter_id);
  return { probers, twice, unprobed, listed };
}

/** What the members logged about the cluster, for a failure's message. */
function membershipLog(members: readonly MemberProcess[]): string {
  return members
    .flatMap((member) =>
      (member.process?.lines ?? [])
        .filter((line) => /member|lease|NATS|watch|snapshot/i.test(line.msg))
        .map(
          (line) =>
            `${member.id} ${new Date(Number(line.time)).toISOString()} ${line.msg} ${JSON.stringify(line.members ?? "")}`,
        ),
    )
    .join("\n");
}

describe("three members over one fleet of 3,000 adapters", () => {
  it("split the probing, answer for the whole fleet, take a killed member's share over and give it back", async () => {
    stack = await clusterStack({
      cluster: "trio",
      adapters: ADAPTERS,
      memberIds: ["a", "b", "c"],
      intervalSec: INTERVAL_MS / 1000,
    });
    const [a, b, c] = stack.members as [MemberProcess, MemberProcess, MemberProcess];
    await Promise.all([a.start(), b.start(), c.start()]);
    // Past this age a verdict checked every interval is stale, by the daemon's own rule.
    const staleLimitMs = INTERVAL_MS * (1 + JITTER) + a.staleRule().graceMs;
    await recorder.start(stack.nats.url, "trio");

    // Every member lists all 3,000, each with the verdict of one of the three.
    for (const member of [a, b, c]) {
      const listed = await until(
        () => member.adapters(),
        (adapters) =>
          adapters.length === ADAPTERS && adapters.every((adapter) => adapter.owner !== undefined),
        `${member.id} to list ${ADAPTERS} adapters, each with an owner`,
      );
      const owners = ownersOf(listed);
      expect([...owners.keys()].sort()).toEqual(["a", "b", "c"]);
      for (const count of owners.values()) expect(count).toBeGreaterThan(ADAPTERS / 3 - 250);
    }

    // Maintenance declared through one member's API holds on every member, and so does its lift.
    const maintained = (await a.adapters())[0]?.adapter_id as string;
    const maintenanceOn = async (member: MemberProcess) =>
      (
        (await member.json(`/v1/adapters/${encodeURIComponent(maintained)}`)) as {
          maintenance: { reason: string } | null;
        }
      ).maintenance;
    const declared = await fetch(
      `http://127.0.0.1:${a.httpPort}/v1/adapters/${encodeURIComponent(maintained)}/maintenance`,
      {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ reason: "disk swap" }),
      },
    );
    expect(declared.status).toBe(200);
    for (const member of [b, c]) {
      await until(
        () => maintenanceOn(member),
        (maintenance) => maintenance?.reason === "disk swap",
        `${member.id} to hold the maintenance declared on a`,
      );
    }
    const lifted = await fetch(
      `http://127.0.0.1:${c.httpPort}/v1/adapters/${encodeURIComponent(maintained)}/maintenance`,
      { method: "DELETE" },
    );
    expect(lifted.status).toBe(200);
    for (const member of [a, b]) {
      await until(
        () => maintenanceOn(member),
        (maintenance) => maintenance === null,
        `${member.id} to lift the maintenance as c did`,
      );
    }

    // Probed by exactly one member each, over two intervals.
    const settled = await probedByExactlyOne([a], 2 * INTERVAL_MS);
    expect(settled.unprobed.slice(0, 5)).toEqual([]);
    expect(settled.twice.slice(0, 5)).toEqual([]);
    const listedOwner = new Map(
      settled.listed.map((adapter) => [adapter.adapter_id, adapter.owner]),
    );
    const mismatched = [...settled.probers].filter(
      ([adapterId, who]) => who.length > 0 && listedOwner.get(adapterId) !== who[0],
    );
    expect(mismatched.slice(0, 5)).toEqual([]);
    const bShare = settled.listed
      .filter((adapter) => adapter.owner === "b")
      .map((x) => x.adapter_id);
    // Checked every interval (a breaker open or flapping waits longer): stale past staleLimitMs.
    const checkedEveryInterval = new Set(
      settled.listed
        .filter((x) => x.status === "healthy" && !x.flapping && x.breaker === "closed")
        .map((x) => x.adapter_id),
    );

    // SIGKILL b: its adapters age into stale (never shown fresh past their limit) until taken over.
    const killedAt = Date.now();
    await b.kill();
    const shownFreshPastLimit: string[] = [];
    const trace: string[] = [];
    let takenOverMs = Number.NaN;
    const deadline = killedAt + LEASE_TTL_MS + INTERVAL_MS + 25_000;
    while (Date.now() < deadline) {
      const listed = await a.adapters();
      for (const adapter of listed) {
        if (
          adapter.owner === "b" &&
          checkedEveryInterval.has(adapter.adapter_id) &&
          (adapter.age_ms ?? 0) > staleLimitMs &&
          !adapter.stale
        ) {
          shownFreshPastLimit.push(adapter.adapter_id);
        }
      }
      trace.push(`${Date.now() - killedAt}:${listed.filter((x) => x.owner === "b").length}`);
      if (listed.every((adapter) => adapter.owner !== "b")) {
        takenOverMs = Date.now() - killedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    console.log(
      `scale-out: b's ${bShare.length} adapters taken over ${takenOverMs} ms after SIGKILL`,
    );
    const left = (await a.adapters()).filter((adapter) => adapter.owner === "b");
    if (left.length > 0) {
      console.log(
        `still b's: ${JSON.stringify(left.slice(0, 3))}; over time (ms:count): ${trace.join(" ")}`,
      );
      console.log(membershipLog([a, c]));
    }
    expect(shownFreshPastLimit.slice(0, 5)).toEqual([]);
    expect(takenOverMs).toBeLessThan(LEASE_TTL_MS + INTERVAL_MS + 25_000);
    const withoutB = await probedByExactlyOne([a], 2 * INTERVAL_MS);
    expect(withoutB.unprobed.slice(0, 5)).toEqual([]);
    expect(withoutB.twice.slice(0, 5)).toEqual([]);
    expect(new Set([...withoutB.probers.values()].flat())).toEqual(new Set(["a", "c"]));

    // b restarts: it rejoins, gets its share back, and within one interval nothing is probed twice.
    await b.start();
    // All of it, also an adapter whose breaker is open (it gives no verdict until its trial):
    // b vouches for its share at its start, and once more a lease TTL later.
    const bShareSet = new Set(bShare);
    await until(
      async () =>
        (await c.adapters()).filter((x) => bShareSet.has(x.adapter_id) && x.owner !== "b"),
      (notBack) => notBack.length === 0,
      "b's share back under b",
      LEASE_TTL_MS + 4 * INTERVAL_MS,
    ).catch(async (error: Error) => {
      const notBack = (await c.adapters()).filter(
        (x) => bShareSet.has(x.adapter_id) && x.owner !== "b",
      );
      const onB = new Map((await b.adapters()).map((x) => [x.adapter_id, x]));
      const onA = new Map((await a.adapters()).map((x) => [x.adapter_id, x]));
      const views = notBack.slice(0, 3).map((x) =>
        [x, onA.get(x.adapter_id), onB.get(x.adapter_id)]
          .map((view) =>
            JSON.stringify({
              owner: view?.owner,
              breaker: view?.breaker,
              last_checked: (view as { last_checked?: string } | undefined)?.last_checked,
            }),
          )
          .join(" a:"),
      );
      throw new Error(
        `${error.message}\n${notBack.length} not back; c, a and b's views: ${views.join("\n")}\n${membershipLog([a, b, c])}`,
      );
    });
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
    const rejoined = await probedByExactlyOne([a], 2 * INTERVAL_MS);
    expect(rejoined.unprobed.slice(0, 5)).toEqual([]);
    expect(rejoined.twice.slice(0, 5)).toEqual([]);

    // Stopped gracefully, each member has put its journal on the stream: every health change once.
    expect(await Promise.all([a.stop(), b.stop(), c.stop()])).toEqual([0, 0, 0]);
    const journalled = [a, b, c].flatMap((member) => member.journalIds("adapter.health_changed"));
    expect(journalled.length).toBeGreaterThan(0);
    await until(
      async () => recorder.messages.filter((m) => m.type === "adapter.health_changed").length,
      (count) => count >= journalled.length,
      "every journalled health change on the stream",
      30_000,
    );
    const onStream = recorder.messages.filter((m) => m.type === "adapter.health_changed");
    const ids = onStream.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(journalled));
    console.log(
      `scale-out: ${journalled.length} health changes journalled by a, b and c; ${ids.length} on the stream, none twice`,
    );
  }, 300_000);
});

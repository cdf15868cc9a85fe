import { afterAll, describe, expect, it } from "vitest";
import {
  type ClusterStack,
  clusterStack,
  type MemberProcess,
  probersBetween,
  readStream,
  StreamRecorder,
  stopClusterStack,
  until,
} from "./support/cluster-stack.js";

/**
 * NATS stopped for 30 s under three members (docs/scale-out.md, "When NATS is
 * away"): each keeps probing what it owns (nobody takes over anybody's share),
 * journals locally and says so in /readyz; once NATS is back each publishes its
 * backlog, and the stream holds every health change of the run exactly once.
 * Defaults for the cluster (lease TTL 10 s: the outage is three TTLs long).
 */
const ADAPTERS = 600;
const OUTAGE_MS = 30_000;

let stack: ClusterStack | undefined;
const recorder = new StreamRecorder();

afterAll(async () => {
  await recorder.stop();
  await stopClusterStack(stack);
});

/** One member's `oneiric_healthd_cluster_*` figures from its /metrics, by metric name. */
async function clusterMetrics(member: MemberProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${member.httpPort}/metrics`)).text();
  const figures = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(oneiric_healthd_cluster_\w+)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (match) figures.set(match[1] as string, Number(match[2]));
  }
  return figures;
}

describe("a NATS outage of 30 s under three members", () => {
  it("keeps each member probing its own share and journalling, then publishes the backlog once", async () => {
    stack = await clusterStack({
      cluster: "cut",
      adapters: ADAPTERS,
      memberIds: ["a", "b", "c"],
      intervalSec: 2,
      behaviourMix: "{ healthy: 0.7, flapping: 0.3 }",
    });
    const members = stack.members as [MemberProcess, MemberProcess, MemberProcess];
    const [a, b, c] = members;
    await Promise.all(members.map((member) => member.start()));
    await recorder.start(stack.nats.url, "cut");
    const listed = await until(
      () => a.adapters(),
      (adapters) =>
        adapters.length === ADAPTERS && adapters.every((adapter) => adapter.owner !== undefined),
      "every adapter with an owner",
    );
    const ownerBefore = new Map(listed.map((adapter) => [adapter.adapter_id, adapter.owner]));
    const journalledBefore = members.map(
      (member) => member.journalIds("adapter.health_changed").length,
    );
    const metricsBefore = await Promise.all(members.map(clusterMetrics));
    for (const figures of metricsBefore) {
      expect(figures.get("oneiric_healthd_cluster_members")).toBe(3);
      expect(figures.get("oneiric_healthd_cluster_nats_connected")).toBe(1);
    }
    expect(
      metricsBefore.reduce(
        (sum, figures) => sum + (figures.get("oneiric_healthd_cluster_owned_adapters") ?? 0),
        0,
      ),
    ).toBe(ADAPTERS);

    await stack.nats.stop();
    const cutAt = Date.now();
    const probesAtCut = stack.simulator.probeCounts();
    // Each member notices and says so, still ready: it serves and probes what it owns.
    for (const member of members) {
      const body = (await until(
        () => member.json("/readyz"),
        (answer) => JSON.stringify(answer).includes("NATS unreachable"),
        `${member.id}'s /readyz to note the outage`,
        20_000,
      )) as Record<string, unknown>;
      expect(body.status).toBe("ready");
    }
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - cutAt)));
    const probers = probersBetween(probesAtCut, stack.simulator.probeCounts());
    const journalledDuring = members.map(
      (member) => member.journalIds("adapter.health_changed").length,
    );

    // The metrics say so: NATS down, events and verdicts waiting for it, nobody dropped.
    for (const member of members) {
      const figures = await clusterMetrics(member);
      expect(figures.get("oneiric_healthd_cluster_nats_connected"), member.id).toBe(0);
      expect(figures.get("oneiric_healthd_cluster_members"), member.id).toBe(3);
      expect(figures.get("oneiric_healthd_cluster_publish_lag_events"), member.id).toBeGreaterThan(
        0,
      );
      expect(figures.get("oneiric_healthd_cluster_verdicts_waiting"), member.id).toBeGreaterThan(0);
    }

    // Nobody took over anybody's share: each adapter was probed by its owner alone.
    const elsewhere = [...probers].filter(
      ([adapterId, who]) => who.length !== 1 || who[0] !== ownerBefore.get(adapterId),
    );
    expect(elsewhere.slice(0, 5)).toEqual([]);
    expect(new Set([...probers.values()].flat())).toEqual(new Set(["a", "b", "c"]));
    // And each journalled health changes meanwhile.
    members.forEach((member, index) => {
      expect(journalledDuring[index], member.id).toBeGreaterThan(journalledBefore[index] as number);
    });

    await stack.nats.start();
    const backAt = Date.now();
    const nats = stack.nats;
    // Every member's journal reaches the stream, the outage's backlog included, each event once.
    const journalled = () =>
      members.flatMap((member) => member.journalIds("adapter.health_changed"));
    const healthChangesOnStream = async () =>
      (await readStream(nats.url, "cut")).filter((m) => m.type === "adapter.health_changed");
    await until(
      async () => {
        const onStream = new Set((await healthChangesOnStream()).map((m) => m.id));
        return journalled().filter((id) => !onStream.has(id)).length;
      },
      (missing) => missing === 0,
      "every journalled health change on the stream after NATS came back",
      60_000,
    );
    console.log(
      `scale-out partition: backlog on the stream ${Date.now() - backAt} ms after NATS came back`,
    );
    // And each member mirrored the others' outage backlog into its own journal.
    for (const member of members) {
      const others = members.filter((other) => other !== member);
      await until(
        async () => {
          const mirrored = new Set(member.mirroredIds("adapter.health_changed"));
          return others
            .flatMap((other) => other.journalIds("adapter.health_changed"))
            .filter((id) => !mirrored.has(id)).length;
        },
        (missing) => missing === 0,
        `${member.id} to mirror the other members' health changes`,
        60_000,
      );
    }
    for (const member of members) {
      await until(
        () => member.json("/readyz"),
        (answer) => !JSON.stringify(answer).includes("NATS unreachable"),
        `${member.id}'s /readyz to drop the note`,
        30_000,
      );
      await until(
        () => clusterMetrics(member),
        (figures) =>
          figures.get("oneiric_healthd_cluster_nats_connected") === 1 &&
          figures.get("oneiric_healthd_cluster_verdicts_waiting") === 0,
        `${member.id}'s metrics to show NATS back and no verdict waiting`,
        30_000,
      );
    }
    expect(await Promise.all([a.stop(), b.stop(), c.stop()])).toEqual([0, 0, 0]);
    const ids = (await healthChangesOnStream()).map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(journalled()));
    // The members' own ordered consumers followed the stream through the outage (each mirrored
    // every other member's backlog, above). The test's consumer in this process is not asserted:
    // under a loaded CI run it once did not resume after the server's restart.
    console.log(
      `scale-out partition: ${journalledDuring.reduce((x, y) => x + y, 0) - journalledBefore.reduce((x, y) => x + y, 0)} health changes journalled during the outage; ${ids.length} on the stream, none twice`,
    );
  }, 240_000);
});

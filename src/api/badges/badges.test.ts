import { describe, expect, it } from "vitest";
import { statusView } from "../../../test/support/status-view.js";
import type { AdapterStatusView } from "../../domain/status-view.js";
import {
  BadgeService,
  formatUptimePercent,
  type LiveStatuses,
  type UptimeLookup,
  type UptimeSeconds,
  type UptimeWindow,
  uptimeMessage,
} from "./badges.js";

function adapter(id: string, overrides: Partial<AdapterStatusView> = {}): AdapterStatusView {
  return statusView(id, {
    since: "2026-11-26T12:00:00.000Z",
    last_checked: "2026-11-26T12:00:00.000Z",
    latency_ms: 1.5,
    reason: "",
    ...overrides,
  });
}

/** A live view holding exactly these adapters. */
function statuses(views: AdapterStatusView[]): LiveStatuses {
  const byId = new Map(views.map((view) => [view.adapter_id, view]));
  return { get: (id) => byId.get(id), list: () => views };
}

/** History that answers from a table of seconds per adapter, and records what it was asked. */
class TableUptime implements UptimeLookup {
  readonly asked: { adapterIds: readonly string[]; window: UptimeWindow }[] = [];
  constructor(private readonly table: Record<string, UptimeSeconds>) {}
  uptime(adapterIds: readonly string[], window: UptimeWindow): UptimeSeconds {
    this.asked.push({ adapterIds, window });
    let up = 0;
    let down = 0;
    for (const id of adapterIds) {
      up += this.table[id]?.up_s ?? 0;
      down += this.table[id]?.down_s ?? 0;
    }
    return { up_s: up, down_s: down };
  }
}

const NO_HISTORY = new TableUptime({});

/** The label and message a badge reads ("label: message"), and the colour of its message part. */
function reading(svg: string): { text: string; color: string } {
  const text = /<title>([^<]*)<\/title>/.exec(svg)?.[1] ?? "";
  const fills = [...svg.matchAll(/<rect [^>]*fill="(#[0-9a-f]+)"/g)].map((m) => m[1]);
  return { text, color: fills[fills.length - 1] ?? "" };
}

describe("one adapter's status badge", () => {
  const views = [
    adapter("p.adapter.storage.s3"),
    adapter("p.adapter.storage.gcs", { status: "degraded" }),
    adapter("p.adapter.storage.azure", { status: "unhealthy" }),
    adapter("p.adapter.storage.minio", { status: "unknown", stale: true }),
    adapter("p.adapter.storage.local", {
      status: "unhealthy",
      maintenance: { until: null, reason: "upgrade" },
    }),
    adapter("p.adapter.cache.redis", { stale: true }),
  ];
  const badges = new BadgeService({ statuses: statuses(views), uptime: NO_HISTORY });
  const badge = async (id: string, query: Record<string, string> = {}) => {
    const answer = await badges.adapterBadge(id, query);
    return { status: answer.status, ...reading(answer.svg) };
  };

  it("says the status on its colour, labelled with the adapter's id", async () => {
    expect(await badge("p.adapter.storage.s3")).toEqual({
      status: 200,
      text: "p.adapter.storage.s3: healthy",
      color: "#4c1",
    });
    expect(await badge("p.adapter.storage.gcs")).toMatchObject({
      text: "p.adapter.storage.gcs: degraded",
      color: "#dfb317",
    });
    expect(await badge("p.adapter.storage.azure")).toMatchObject({
      text: "p.adapter.storage.azure: unhealthy",
      color: "#e05d44",
    });
    expect(await badge("p.adapter.storage.minio")).toMatchObject({
      text: "p.adapter.storage.minio: unknown",
      color: "#9f9f9f",
    });
  });

  it("says maintenance in blue whatever the status, and marks a stale verdict", async () => {
    expect(await badge("p.adapter.storage.local")).toMatchObject({
      text: "p.adapter.storage.local: maintenance",
      color: "#007ec6",
    });
    expect(await badge("p.adapter.cache.redis")).toMatchObject({
      text: "p.adapter.cache.redis: healthy (stale)",
      color: "#4c1",
    });
  });

  it("takes another label, and draws flat-square when asked", async () => {
    expect(await badge("p.adapter.storage.s3", { label: "S3 storage" })).toMatchObject({
      text: "S3 storage: healthy",
    });
    const square = await badges.adapterBadge("p.adapter.storage.s3", { style: "flat-square" });
    expect(square.svg).toContain('shape-rendering="crispEdges"');
  });

  it("answers an unknown adapter with a grey `not found` badge and 404", async () => {
    expect(await badge("p.adapter.storage.nope")).toEqual({
      status: 404,
      text: "p.adapter.storage.nope: not found",
      color: "#9f9f9f",
    });
  });

  it("refuses unknown and bad parameters, naming them", async () => {
    await expect(
      badges.adapterBadge("p.adapter.storage.s3", { colour: "red" }),
    ).rejects.toMatchObject({
      code: "UNKNOWN_PARAMETER",
      message: 'unknown parameter "colour"; known: kind, window, label, style',
      extra: { parameter: "colour" },
    });
    await expect(badges.adapterBadge("p.adapter.storage.s3", { kind: "latency" })).rejects.toThrow(
      'kind must be one of "status", "uptime"; got "latency"',
    );
    await expect(
      badges.adapterBadge("p.adapter.storage.s3", { label: "x".repeat(65) }),
    ).rejects.toMatchObject({ code: "INVALID_PARAMETER", extra: { parameter: "label" } });
    await expect(
      badges.adapterBadge("p.adapter.storage.s3", { style: "plastic" }),
    ).rejects.toMatchObject({ code: "INVALID_PARAMETER", extra: { parameter: "style" } });
    await expect(badges.adapterBadge("p.adapter.storage.s3", { window: "7d" })).rejects.toThrow(
      'window applies to uptime badges only (kind=uptime); got window="7d" with kind=status',
    );
  });
});

describe("a category's status badge", () => {
  const views = [
    adapter("p.adapter.storage.s3"),
    adapter("p.adapter.storage.gcs"),
    adapter("q.adapter.storage.minio"),
    adapter("p.backup.storage.tape", { status: "degraded" }),
    adapter("p.adapter.cache.redis", { status: "unhealthy" }),
    adapter("p.adapter.queue.sqs", { maintenance: { until: null, reason: "" } }),
    adapter("p.adapter.queue.kafka"),
    adapter("p.adapter.search.solr", { status: "unknown" }),
    adapter("p.adapter.search.elastic", { maintenance: { until: null, reason: "" } }),
  ];
  const badges = new BadgeService({ statuses: statuses(views), uptime: NO_HISTORY });
  const badge = async (category: string, query: Record<string, string> = {}) => {
    const answer = await badges.categoryBadge(category, query);
    return { status: answer.status, ...reading(answer.svg) };
  };

  it("counts the healthy adapters of every project and domain, on the colour of the worst", async () => {
    expect(await badge("storage")).toEqual({
      status: 200,
      text: "storage: 3/4 healthy",
      color: "#dfb317",
    });
    expect(await badge("cache")).toMatchObject({ text: "cache: 0/1 healthy", color: "#e05d44" });
    expect(await badge("queue")).toMatchObject({ text: "queue: 1/2 healthy", color: "#007ec6" });
    expect(await badge("search")).toMatchObject({ text: "search: 0/2 healthy", color: "#9f9f9f" });
  });

  it("narrows to one domain with ?domain=", async () => {
    expect(await badge("storage", { domain: "adapter" })).toMatchObject({
      text: "adapter/storage: 3/3 healthy",
      color: "#4c1",
    });
  });

  it("answers a category with no adapter (in that domain) with a `not found` badge and 404", async () => {
    expect(await badge("mail")).toMatchObject({ status: 404, text: "mail: not found" });
    expect(await badge("cache", { domain: "backup" })).toMatchObject({
      status: 404,
      text: "backup/cache: not found",
    });
  });
});

describe("uptime badges", () => {
  const views = [
    adapter("p.adapter.storage.s3"),
    adapter("p.adapter.storage.gcs"),
    adapter("p.adapter.cache.redis"),
    adapter("p.adapter.queue.sqs"),
  ];
  const history = new TableUptime({
    "p.adapter.storage.s3": { up_s: 86_356.8, down_s: 43.2 }, // 99.95 %
    "p.adapter.storage.gcs": { up_s: 85_536, down_s: 864 }, // 99 %
    "p.adapter.cache.redis": { up_s: 90, down_s: 10 },
  });
  const badges = new BadgeService({ statuses: statuses(views), uptime: history });

  it("gives one adapter's uptime over 24 h unless another window is asked", async () => {
    const day = await badges.adapterBadge("p.adapter.storage.s3", { kind: "uptime" });
    expect(reading(day.svg)).toEqual({
      text: "p.adapter.storage.s3 uptime 24h: 99.95%",
      color: "#4c1",
    });
    const week = await badges.adapterBadge("p.adapter.cache.redis", {
      kind: "uptime",
      window: "7d",
      label: "redis",
    });
    expect(reading(week.svg)).toEqual({ text: "redis: 90%", color: "#e05d44" });
    expect(history.asked.slice(-2)).toEqual([
      { adapterIds: ["p.adapter.storage.s3"], window: "24h" },
      { adapterIds: ["p.adapter.cache.redis"], window: "7d" },
    ]);
  });

  it("sums a category's up and down time over its adapters", async () => {
    const storage = await badges.categoryBadge("storage", { kind: "uptime", window: "30d" });
    // (86,356.8 + 85,536) / (172,800) = 99.475 %
    expect(reading(storage.svg)).toEqual({
      text: "storage uptime 30d: 99.47%",
      color: "#a4a61d",
    });
    expect(history.asked.at(-1)).toEqual({
      adapterIds: ["p.adapter.storage.s3", "p.adapter.storage.gcs"],
      window: "30d",
    });
  });

  it("says `no data` in grey when there is neither up nor down time", async () => {
    const none = await badges.adapterBadge("p.adapter.queue.sqs", { kind: "uptime" });
    expect(reading(none.svg)).toEqual({
      text: "p.adapter.queue.sqs uptime 24h: no data",
      color: "#9f9f9f",
    });
  });

  it("refuses a window the history does not keep", async () => {
    await expect(
      badges.adapterBadge("p.adapter.storage.s3", { kind: "uptime", window: "2d" }),
    ).rejects.toThrow('window must be one of "1h", "24h", "7d", "30d", "90d"; got "2d"');
  });

  it("bands the percentage and never rounds downtime up to 100%", () => {
    expect(uptimeMessage({ up_s: 999_999, down_s: 1 })).toEqual({
      message: "99.99%",
      color: "#4c1",
    });
    expect(uptimeMessage({ up_s: 100, down_s: 0 })).toEqual({ message: "100%", color: "#4c1" });
    expect(uptimeMessage({ up_s: 9_990, down_s: 10 }).color).toBe("#4c1");
    expect(uptimeMessage({ up_s: 9_989, down_s: 11 }).color).toBe("#a4a61d");
    expect(uptimeMessage({ up_s: 99, down_s: 1 }).color).toBe("#a4a61d");
    expect(uptimeMessage({ up_s: 95, down_s: 5 }).color).toBe("#dfb317");
    expect(uptimeMessage({ up_s: 94, down_s: 6 }).color).toBe("#e05d44");
    expect(formatUptimePercent(99.95)).toBe("99.95%");
    expect(formatUptimePercent(99.9)).toBe("99.9%");
  });
});

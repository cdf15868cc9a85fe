import type { CandidateAnswer, ResolutionAnswer } from "../api/query-service.js";
import {
  type CloudEvent,
  EVENT_TYPE_PREFIX,
  EVENT_TYPES,
  type EventType,
  type JournalEvent,
} from "../domain/events.js";
import type { Requirement } from "../domain/resolution.js";
import { formatEvent } from "./format.js";

/** What the journal can hold; a newer daemon's other types print generically. */
const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

/** `adapter/storage/s3`, `adapter/cache/*`, with the project when one is asked for. */
export function describeRequirement(requirement: Requirement): string {
  const wanted = [requirement.domain, requirement.category, requirement.provider || "*"].join("/");
  return requirement.project ? `${wanted} in project ${requirement.project}` : wanted;
}

/** `healthy, breaker closed, 2 ms`: what a person weighs when choosing. */
export function describeCandidate(candidate: CandidateAnswer): string {
  return [
    candidate.status,
    `breaker ${candidate.breaker}`,
    candidate.flapping ? "flapping" : "",
    candidate.maintenance ? "in maintenance" : "",
    candidate.priority === 100 ? "" : `priority ${candidate.priority}`,
    candidate.latency_ms === null ? "" : `${Math.round(candidate.latency_ms)} ms`,
  ]
    .filter(Boolean)
    .join(", ");
}

/** A resolution as the `resolve` command prints it. */
export function formatResolution(answer: ResolutionAnswer, answeredBy: string): string {
  const wanted = describeRequirement(answer.requirement);
  const lines: string[] = [];
  if (answer.choice) {
    lines.push(
      `${wanted}: ${answer.panic ? "PANIC, least bad: " : ""}${answer.choice.adapter_id} (${describeCandidate(answer.choice)})`,
    );
  } else {
    lines.push(`${wanted}: NO USABLE ADAPTER`);
  }
  if (answer.fallbacks.length > 0) {
    lines.push("fallbacks, in order:");
    answer.fallbacks.forEach((candidate, index) => {
      lines.push(`  ${index + 1}. ${candidate.adapter_id} (${describeCandidate(candidate)})`);
    });
  } else if (answer.choice && !answer.panic) {
    lines.push("fallbacks: none");
  }
  if (answer.excluded.length > 0) {
    // In panic mode the choice and fallbacks are listed here too: this says why each is unfit.
    lines.push("excluded:");
    for (const candidate of answer.excluded) {
      lines.push(`  ${candidate.adapter_id}: ${candidate.excluded_because ?? "excluded"}`);
    }
  }
  lines.push(`reason: ${answer.reason}`);
  lines.push(`answered by: ${answeredBy}, ${answer.at}`);
  const note = (answer as { note?: unknown }).note;
  if (typeof note === "string") lines.push(`note: ${note}`);
  return `${lines.join("\n")}\n`;
}

/** The journal event a CloudEvent carries, so the demo's one-line formatter applies. */
export function toJournalEvent(event: CloudEvent): JournalEvent {
  const type = event.type.startsWith(EVENT_TYPE_PREFIX)
    ? event.type.slice(EVENT_TYPE_PREFIX.length)
    : event.type;
  return {
    seq: event.seq,
    id: event.id,
    type: type as EventType,
    subject: event.subject,
    time: Date.parse(event.time),
    data: event.data,
  };
}

/** One line per event, led by its seq so a person can resume with `--since`. */
export function formatCloudEvent(event: CloudEvent): string {
  const journal = toJournalEvent(event);
  const text = KNOWN_TYPES.has(journal.type)
    ? formatEvent(journal)
    : `${event.time.slice(11, 19)}  ${event.subject}: ${journal.type} ${JSON.stringify(event.data)}`;
  return `${String(event.seq).padStart(6)}  ${text}`;
}

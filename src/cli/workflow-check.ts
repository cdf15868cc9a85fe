import type { QueryBackend } from "../api/query-backend.js";
import { MAX_BATCH, type ResolutionAnswer } from "../api/query-service.js";
import type { HealthStatus } from "../domain/adapter.js";
import { type Requirement, requirementKey } from "../domain/resolution.js";
import type { AdapterStatusView } from "../domain/status-view.js";
import { describeCandidate, describeRequirement } from "./query-format.js";
import type { WorkflowFile } from "./workflow-file.js";

/** How many nearest adapters an unmet requirement suggests. */
const MAX_SUGGESTIONS = 5;
const STATUS_RANK: Record<HealthStatus, number> = {
  healthy: 0,
  degraded: 1,
  unknown: 2,
  unhealthy: 3,
};

/** An adapter worth a look when a requirement cannot be met, and why it is near. */
export interface Suggestion {
  adapter_id: string;
  status: HealthStatus;
  usable: boolean;
  /** `same domain and category, provider gcs` or `same provider, category cache`. */
  why: string;
}

export interface RequirementCheck {
  origin: string;
  line: number;
  requirement: Requirement;
  met: boolean;
  resolution: ResolutionAnswer;
  suggestions: Suggestion[];
}

export interface WorkflowCheckReport {
  file: string;
  answered_by: string;
  met: boolean;
  workflows: { name: string; line: number; met: boolean; requirements: RequirementCheck[] }[];
  warnings: string[];
}

/**
 * Resolves every requirement of every workflow in one batch per hundred (each
 * distinct requirement once), and for each unmet one looks for the nearest
 * adapters that exist. Panic mode is off: a workflow is only "met" by an
 * adapter resolution would really hand it.
 */
export async function checkWorkflows(
  file: WorkflowFile,
  backend: QueryBackend,
): Promise<WorkflowCheckReport> {
  const distinct = new Map<string, Requirement>();
  for (const workflow of file.workflows) {
    for (const { requirement } of workflow.requirements) {
      distinct.set(requirementKey(requirement), requirement);
    }
  }
  const keys = [...distinct.keys()];
  const answers = new Map<string, ResolutionAnswer>();
  for (let start = 0; start < keys.length; start += MAX_BATCH) {
    const chunk = keys.slice(start, start + MAX_BATCH);
    const resolutions = await backend.resolveBatch({
      requirements: chunk.map((key) => ({ ...distinct.get(key), panic: false })),
    });
    chunk.forEach((key, index) => {
      const resolution = resolutions[index];
      if (resolution) answers.set(key, resolution);
    });
  }
  const isMet = (answer: ResolutionAnswer) => answer.choice !== null && !answer.panic;
  const anyUnmet = [...answers.values()].some((answer) => !isMet(answer));
  // Only an unmet requirement needs the whole catalog, for its suggestions.
  const catalog = anyUnmet ? (await backend.listAdapters({})).adapters : [];
  const workflows = file.workflows.map((workflow) => {
    const requirements = workflow.requirements.map((found): RequirementCheck => {
      const resolution = answers.get(requirementKey(found.requirement));
      if (!resolution) {
        throw new Error(`no answer for ${describeRequirement(found.requirement)}`);
      }
      const met = isMet(resolution);
      return {
        origin: found.origin,
        line: found.line,
        requirement: found.requirement,
        met,
        resolution,
        suggestions: met ? [] : nearest(found.requirement, resolution, catalog),
      };
    });
    return {
      name: workflow.name,
      line: workflow.line,
      met: requirements.every((requirement) => requirement.met),
      requirements,
    };
  });
  return {
    file: file.file,
    answered_by: backend.description,
    met: workflows.every((workflow) => workflow.met),
    workflows,
    warnings: file.warnings,
  };
}

/**
 * Adapters near an unmet requirement: the same domain and category with
 * another provider (or project), then the same provider elsewhere; usable
 * ones first, then by status. Adapters that matched (and were excluded) are
 * already listed with their reasons, so they are not repeated.
 */
function nearest(
  requirement: Requirement,
  resolution: ResolutionAnswer,
  catalog: readonly AdapterStatusView[],
): Suggestion[] {
  const matched = new Set(resolution.excluded.map((candidate) => candidate.adapter_id));
  const found: (Suggestion & { rank: number })[] = [];
  for (const adapter of catalog) {
    if (matched.has(adapter.adapter_id)) continue;
    let why: string | undefined;
    let rank = 0;
    if (adapter.domain === requirement.domain && adapter.category === requirement.category) {
      why =
        requirement.provider && adapter.provider !== requirement.provider
          ? `same category, provider ${adapter.provider}`
          : `same category, project ${adapter.project}`;
    } else if (requirement.provider && adapter.provider === requirement.provider) {
      why = `same provider, ${adapter.domain}/${adapter.category}`;
      rank = 1;
    }
    if (why === undefined) continue;
    found.push({
      adapter_id: adapter.adapter_id,
      status: adapter.status,
      usable: adapter.usable,
      why,
      rank,
    });
  }
  return found
    .sort(
      (a, b) =>
        Number(b.usable) - Number(a.usable) ||
        a.rank - b.rank ||
        STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
        a.adapter_id.localeCompare(b.adapter_id),
    )
    .slice(0, MAX_SUGGESTIONS)
    .map(({ rank: _rank, ...suggestion }) => suggestion);
}

/** The report as a person reads it: per workflow, per requirement, the choice or why not. */
export function formatWorkflowReport(report: WorkflowCheckReport): string {
  const lines: string[] = [`${report.file}: answered by the ${report.answered_by}`];
  const note = report.workflows
    .flatMap((workflow) => workflow.requirements)
    .map((check) => (check.resolution as { note?: unknown }).note)
    .find((value): value is string => typeof value === "string");
  if (note) lines.push(`note: ${note}`);
  let total = 0;
  const unmet: string[] = [];
  for (const workflow of report.workflows) {
    lines.push("");
    lines.push(
      `${workflow.name} (line ${workflow.line}): ${
        workflow.requirements.length === 0
          ? "no adapter requirements"
          : workflow.met
            ? "all requirements met"
            : "NOT MET"
      }`,
    );
    for (const check of workflow.requirements) {
      total++;
      const wanted = describeRequirement(check.requirement);
      const where = `${check.origin}, line ${check.line}`;
      const { choice, fallbacks } = check.resolution;
      if (check.met && choice) {
        lines.push(`  ok     ${wanted}  (${where})`);
        lines.push(`         -> ${choice.adapter_id} (${describeCandidate(choice)})`);
        lines.push(
          `         fallbacks: ${
            fallbacks.length === 0
              ? "none"
              : fallbacks
                  .map((candidate) => `${candidate.adapter_id} (${candidate.status})`)
                  .join(", ")
          }`,
        );
        continue;
      }
      unmet.push(`${workflow.name} needs ${wanted} (line ${check.line})`);
      lines.push(`  UNMET  ${wanted}  (${where})`);
      lines.push(`         ${check.resolution.reason}`);
      lines.push(
        `         nearest: ${
          check.suggestions.length === 0
            ? "nothing similar in the catalog"
            : check.suggestions
                .map(
                  (suggestion) =>
                    `${suggestion.adapter_id} (${suggestion.status}${suggestion.usable ? "" : ", not usable"}; ${suggestion.why})`,
                )
                .join(", ")
        }`,
      );
    }
  }
  lines.push("");
  lines.push(
    unmet.length === 0
      ? `all ${total} requirement${total === 1 ? "" : "s"} of ${report.workflows.length} workflow${report.workflows.length === 1 ? "" : "s"} met`
      : `${unmet.length} of ${total} requirements not met: ${unmet.join("; ")}`,
  );
  return `${lines.join("\n")}\n`;
}

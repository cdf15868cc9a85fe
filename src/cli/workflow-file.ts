import { readFileSync } from "node:fs";
import { type Document, LineCounter, parseAllDocuments } from "yaml";
import { requirementSchema } from "../api/query-service.js";
import { TOOL_NAMES } from "../api/tool-names.js";
import { describeIssue, lineOfPath } from "../config/yaml-issues.js";
import type { Requirement } from "../domain/resolution.js";

/** The oneiric_* tools a workflow step may call: the MCP server's tools. */
export const ONEIRIC_TOOLS = TOOL_NAMES;

const RESOLVE_TOOL = "oneiric_resolve_adapter";
const RESOLVE_ARGS = new Set(["domain", "category", "provider", "project", "panic"]);
const WORKFLOW_KEYS = new Set(["name", "description", "adapter_requirements", "steps"]);
/** Requirements carry no `panic`: a workflow states what it needs, not how to degrade. */
const fileRequirementSchema = requirementSchema.omit({ panic: true });

/** One adapter a workflow needs, and where the file says so. */
export interface WorkflowRequirement {
  requirement: Requirement;
  line: number;
  /** `adapter_requirements[1]` or `step "resolve-prefect"`. */
  origin: string;
}

export interface WorkflowDefinition {
  name: string;
  description: string | undefined;
  line: number;
  requirements: WorkflowRequirement[];
}

export interface WorkflowFile {
  file: string;
  workflows: WorkflowDefinition[];
  /** Things accepted but worth a look, each `FILE:LINE: …`. */
  warnings: string[];
}

/** The file cannot be checked: it names the file and, where known, the line. */
export class WorkflowFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly line?: number,
  ) {
    super(`${line === undefined ? file : `${file}:${line}`}: ${problem}`);
    this.name = "WorkflowFileError";
  }
}

export function loadWorkflowFile(file: string): WorkflowFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new WorkflowFileError(
      file,
      code === "ENOENT" ? "file not found" : `cannot read (${code})`,
    );
  }
  return parseWorkflowFile(text, file);
}

type Path = (string | number)[];

/**
 * Reads workflow definitions in the shapes the Oneiric integration plan shows:
 * a document with a `workflows:` list (Phase 3's schema), or a document that is
 * one workflow (the "Example Workflows"); several `---` documents may follow one
 * another. Requirements come from `adapter_requirements` and from each
 * `oneiric_resolve_adapter` step's `params` (or `args`).
 */
export function parseWorkflowFile(text: string, file: string): WorkflowFile {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  // parseAllDocuments answers an EmptyStream (a list) for input with no document at all.
  const docs = Array.isArray(documents) ? documents : [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      throw new WorkflowFileError(
        file,
        `not valid YAML: ${error.message.split("\n")[0]}`,
        error.linePos?.[0]?.line ?? lines.linePos(error.pos[0]).line,
      );
    }
  }
  const result: WorkflowFile = { file, workflows: [], warnings: [] };
  for (const doc of docs) {
    if (doc.contents === null) continue;
    new DocumentReader(doc, lines, result).read();
  }
  if (result.workflows.length === 0) {
    throw new WorkflowFileError(file, "no workflows in the file", 1);
  }
  const seen = new Map<string, number>();
  for (const workflow of result.workflows) {
    const first = seen.get(workflow.name);
    if (first !== undefined) {
      result.warnings.push(
        `${file}:${workflow.line}: workflow ${JSON.stringify(workflow.name)} is defined twice (first on line ${first})`,
      );
    } else {
      seen.set(workflow.name, workflow.line);
    }
  }
  return result;
}

/** Walks one YAML document, failing at the first problem with its line. */
class DocumentReader {
  private readonly root: unknown;

  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
    private readonly result: WorkflowFile,
  ) {
    this.root = doc.toJS();
  }

  read(): void {
    const root = this.root;
    if (!isRecord(root)) {
      this.fail([], "expected a mapping with a `workflows:` list, or one workflow with `name:`");
    }
    if ("workflows" in root) {
      for (const key of Object.keys(root)) {
        if (key !== "workflows") this.warn([key], `unknown top-level key ${key} (ignored)`);
      }
      const workflows = root.workflows;
      if (!Array.isArray(workflows)) this.fail(["workflows"], "expected a list of workflows");
      workflows.forEach((_, index) => {
        this.workflow(["workflows", index]);
      });
      return;
    }
    if (!("name" in root)) {
      this.fail([], "expected a `workflows:` list, or one workflow with `name:`");
    }
    this.workflow([]);
  }

  private workflow(path: Path): void {
    const value = this.at(path);
    if (!isRecord(value)) this.fail(path, "expected a workflow (a mapping with name:)");
    const name = value.name;
    if (typeof name !== "string" || name.trim() === "") {
      this.fail("name" in value ? [...path, "name"] : path, "a workflow needs a name (a string)");
    }
    if (value.description !== undefined && typeof value.description !== "string") {
      this.fail([...path, "description"], "expected a string");
    }
    for (const key of Object.keys(value)) {
      if (!WORKFLOW_KEYS.has(key)) {
        this.warn(
          [...path, key],
          `workflow ${JSON.stringify(name)}: unknown key ${key} (ignored by this check)`,
        );
      }
    }
    const definition: WorkflowDefinition = {
      name,
      description: value.description as string | undefined,
      line: this.lineOf(path),
      requirements: [],
    };
    const requirements = value.adapter_requirements;
    if (requirements !== undefined && requirements !== null) {
      if (!Array.isArray(requirements)) {
        this.fail([...path, "adapter_requirements"], "expected a list of requirements");
      }
      requirements.forEach((_, index) => {
        const where: Path = [...path, "adapter_requirements", index];
        const requirement = this.requirement(
          where,
          this.at(where),
          `workflow ${JSON.stringify(name)} adapter_requirements[${index}]`,
        );
        if (requirement) {
          definition.requirements.push({
            requirement,
            line: this.lineOf(where),
            origin: `adapter_requirements[${index}]`,
          });
        }
      });
    }
    const steps = value.steps;
    if (steps !== undefined && steps !== null) {
      if (!Array.isArray(steps)) this.fail([...path, "steps"], "expected a list of steps");
      steps.forEach((_, index) => {
        const found = this.step([...path, "steps", index], index, name);
        if (found) definition.requirements.push(found);
      });
    }
    this.result.workflows.push(definition);
  }

  /** Checks one step; a resolve step gives a requirement. Other keys are the engine's business. */
  private step(path: Path, index: number, workflow: string): WorkflowRequirement | undefined {
    const step = this.at(path);
    if (!isRecord(step)) this.fail(path, "expected a step (a mapping with tool:)");
    if (step.name !== undefined && typeof step.name !== "string") {
      this.fail([...path, "name"], "expected a string");
    }
    const label = `workflow ${JSON.stringify(workflow)} step ${
      typeof step.name === "string" ? JSON.stringify(step.name) : `#${index + 1}`
    }`;
    const tool = step.tool;
    if (tool === undefined) return undefined;
    if (typeof tool !== "string") this.fail([...path, "tool"], "expected a tool name (a string)");
    if (!tool.startsWith("oneiric_")) return undefined;
    if (!(ONEIRIC_TOOLS as readonly string[]).includes(tool)) {
      this.fail(
        [...path, "tool"],
        `${label}: unknown Oneiric tool ${JSON.stringify(tool)} (known: ${ONEIRIC_TOOLS.join(", ")})`,
      );
    }
    if (step.params !== undefined && step.args !== undefined) {
      this.fail([...path, "args"], `${label}: give params or args, not both`);
    }
    const argsKey = step.args !== undefined ? "args" : "params";
    const args = step[argsKey];
    if (args !== undefined && args !== null && !isRecord(args)) {
      this.fail([...path, argsKey], `${label}: ${argsKey} must be a mapping`);
    }
    if (tool !== RESOLVE_TOOL) return undefined;
    const argsPath: Path = [...path, argsKey];
    if (!isRecord(args)) {
      this.fail(
        step[argsKey] === undefined ? path : argsPath,
        `${label}: ${RESOLVE_TOOL} needs ${argsKey} with domain and category`,
      );
    }
    const known: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(args)) {
      if (!RESOLVE_ARGS.has(key)) {
        this.warn([...argsPath, key], `${label}: ${RESOLVE_TOOL} has no argument ${key}`);
      } else if (key !== "panic") {
        known[key] = value;
      }
    }
    const requirement = this.requirement(argsPath, known, label);
    const origin = `step ${typeof step.name === "string" ? JSON.stringify(step.name) : `#${index + 1}`}`;
    return requirement ? { requirement, line: this.lineOf(path), origin } : undefined;
  }

  /**
   * Validates a requirement with the daemon's own rules. A value computed when
   * the workflow runs (`${…}`) cannot be checked now: warned about, skipped.
   */
  private requirement(path: Path, value: unknown, label: string): Requirement | undefined {
    if (!isRecord(value)) this.fail(path, `${label}: expected a mapping (domain, category, …)`);
    const templated = Object.entries(value).find(
      ([, field]) => typeof field === "string" && field.includes("${"),
    );
    if (templated) {
      this.warn(
        [...path, templated[0]],
        `${label}: ${templated[0]} is computed when the workflow runs (${String(templated[1])}); not checked`,
      );
      return undefined;
    }
    const parsed = fileRequirementSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    if (!issue) this.fail(path, `${label}: invalid`);
    const { key, problem, path: issuePath } = describeIssue(issue);
    const field = issue.path[0];
    const missing = issue.code === "invalid_type" && typeof field === "string" && !(field in value);
    this.fail(
      // A missing key has no line of its own: point at the mapping that lacks it.
      missing ? path : [...path, ...(issuePath as Path)],
      missing ? `${label}: ${key} is required` : `${label}: ${key}: ${problem}`,
    );
  }

  private at(path: Path): unknown {
    let node: unknown = this.root;
    for (const part of path) {
      if (node === null || typeof node !== "object") return undefined;
      node = (node as Record<string | number, unknown>)[part];
    }
    return node;
  }

  private lineOf(path: Path): number {
    return lineOfPath(this.doc.contents, path, this.lines) ?? 1;
  }

  private warn(path: Path, message: string): void {
    this.result.warnings.push(`${this.result.file}:${this.lineOf(path)}: ${message}`);
  }

  private fail(path: Path, problem: string): never {
    throw new WorkflowFileError(this.result.file, problem, this.lineOf(path));
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

import { describe, expect, it } from "vitest";
import { parseWorkflowFile, WorkflowFileError } from "./workflow-file.js";

function problem(text: string): string {
  try {
    parseWorkflowFile(text, "w.yaml");
  } catch (error) {
    if (error instanceof WorkflowFileError) return error.message;
    throw error;
  }
  throw new Error("expected the file to be refused");
}

describe("workflow files", () => {
  it("takes requirements from adapter_requirements and oneiric_resolve_adapter steps", () => {
    const file = parseWorkflowFile(
      `workflows:
  - name: w
    adapter_requirements:
      - { domain: adapter, category: storage, provider: s3, project: p }
    steps:
      - tool: oneiric_resolve_adapter
        args: { domain: adapter, category: cache }
      - name: later
        tool: oneiric_resolve_adapter
        params: { domain: adapter, category: "\${input.category}" }
      - tool: somebody_elses_tool
        anything: [goes, here]
`,
      "w.yaml",
    );
    expect(file.workflows).toEqual([
      {
        name: "w",
        description: undefined,
        line: 2,
        requirements: [
          {
            requirement: { domain: "adapter", category: "storage", provider: "s3", project: "p" },
            line: 4,
            origin: "adapter_requirements[0]",
          },
          {
            requirement: { domain: "adapter", category: "cache" },
            line: 6,
            origin: "step #1",
          },
        ],
      },
    ]);
    expect(file.warnings).toEqual([
      'w.yaml:10: workflow "w" step "later": category is computed when the workflow runs (${input.category}); not checked',
    ]);
  });

  it("takes a step asking oneiric_uptime, and names it among the known tools", () => {
    const file = parseWorkflowFile(
      "name: w\nsteps:\n  - tool: oneiric_uptime\n    params: { window: 7d, category: storage }\n",
      "w.yaml",
    );
    expect(file.workflows).toEqual([expect.objectContaining({ name: "w", requirements: [] })]);
    expect(problem("name: w\nsteps:\n  - tool: oneiric_uptim\n")).toMatch(
      /unknown Oneiric tool "oneiric_uptim" \(known: .*, oneiric_uptime\)$/,
    );
  });

  it.each([
    ["workflows: {}\n", "w.yaml:1: expected a list of workflows"],
    ["workflows:\n  - description: x\n", "w.yaml:2: a workflow needs a name (a string)"],
    [
      "name: w\nsteps:\n  - tool: oneiric_get_adapter\n    params: [a]\n",
      'w.yaml:4: workflow "w" step #1: params must be a mapping',
    ],
    [
      "name: w\nsteps:\n  - tool: oneiric_resolve_adapter\n",
      'w.yaml:3: workflow "w" step #1: oneiric_resolve_adapter needs params with domain and category',
    ],
    [
      "name: w\nsteps:\n  - tool: oneiric_check_health\n    params: {}\n    args: {}\n",
      'w.yaml:5: workflow "w" step #1: give params or args, not both',
    ],
    [
      "name: w\nadapter_requirements:\n  - { domain: adapter, category: '' }\n",
      'w.yaml:3: workflow "w" adapter_requirements[0]: category: Too small: expected string to have >=1 characters',
    ],
    ["name: a\nname: b\n", "w.yaml:2: not valid YAML: Map keys must be unique"],
  ])("refuses %j", (text, expected) => {
    expect(problem(text)).toBe(expected);
  });
});

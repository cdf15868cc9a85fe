/**
 * `oneiric-healthd workflow check FILE`: resolves every adapter requirement of
 * the file's workflows. Exit 0 all met, 1 some not met, 2 the file is invalid.
 */
import type { CommandLine } from "../command-spec.js";
import type { WORKFLOW_CHECK_COMMAND } from "../command-specs.js";
import { EXIT_FAILURE, EXIT_INVALID_WORKFLOW } from "../exit-codes.js";
import { jsonText, printNotice } from "../output.js";
import { describeRequirement } from "../query-format.js";
import { withBackend } from "../query-source.js";
import {
  checkWorkflows,
  formatWorkflowReport,
  type WorkflowCheckReport,
} from "../workflow-check.js";
import { loadWorkflowFile, type WorkflowFile, WorkflowFileError } from "../workflow-file.js";

export async function workflowCheckCommand(
  line: CommandLine<typeof WORKFLOW_CHECK_COMMAND>,
): Promise<number> {
  const { values } = line;
  const file = line.arguments.FILE;
  // The file is checked before anything is asked: a broken file is broken whoever answers.
  let definitions: WorkflowFile;
  try {
    definitions = loadWorkflowFile(file);
  } catch (error) {
    if (!(error instanceof WorkflowFileError)) throw error;
    printNotice(`invalid workflow file: ${error.message}`);
    return EXIT_INVALID_WORKFLOW;
  }
  for (const warning of definitions.warnings) printNotice(`warning: ${warning}`);
  return withBackend(values, async (backend) => {
    const report = await checkWorkflows(definitions, backend);
    process.stdout.write(values.json ? jsonText(report) : formatWorkflowReport(report));
    if (report.met) return 0;
    printNotice(`requirements not met: ${unmetRequirements(report, file).join("; ")}`);
    return EXIT_FAILURE;
  });
}

/** "workflow: requirement (file:line)" for each requirement not met. */
function unmetRequirements(report: WorkflowCheckReport, file: string): string[] {
  return report.workflows.flatMap((workflow) =>
    workflow.requirements
      .filter((check) => !check.met)
      .map(
        (check) =>
          `${workflow.name}: ${describeRequirement(check.requirement)} (${file}:${check.line})`,
      ),
  );
}

/** `oneiric-healthd resolve DOMAIN CATEGORY [PROVIDER]`: the adapter to use; exit 1 when none is usable. */
import type { CommandLine } from "../command-spec.js";
import type { RESOLVE_COMMAND } from "../command-specs.js";
import { EXIT_FAILURE } from "../exit-codes.js";
import { jsonText, printNotice } from "../output.js";
import { formatResolution } from "../query-format.js";
import { withBackend } from "../query-source.js";
import { usageOnBadParameter } from "../usage-error.js";

export async function resolveCommand(line: CommandLine<typeof RESOLVE_COMMAND>): Promise<number> {
  const { values } = line;
  const { DOMAIN: domain, CATEGORY: category, PROVIDER: provider } = line.arguments;
  const requirement = {
    domain,
    category,
    ...(provider === undefined ? {} : { provider }),
    ...(values.project === undefined ? {} : { project: values.project }),
    // Without --panic the daemon's configured default (resolution.panic) applies.
    ...(values.panic ? { panic: true } : {}),
  };
  return withBackend(values, async (backend) => {
    const answer = await usageOnBadParameter(() => backend.resolve(requirement));
    process.stdout.write(
      values.json ? jsonText(answer) : formatResolution(answer, backend.description),
    );
    if (answer.choice !== null && !answer.panic) return 0;
    // The reason already names the requirement and why each candidate is out.
    printNotice(answer.reason);
    return EXIT_FAILURE;
  });
}

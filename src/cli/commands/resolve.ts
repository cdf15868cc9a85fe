/** `oneiric-healthd resolve DOMAIN CATEGORY [PROVIDER]`: the adapter to use; exit 1 when none is usable. */
import { parse } from "../arguments.js";
import { EXIT_FAILURE } from "../exit-codes.js";
import { jsonText, printNotice } from "../output.js";
import { formatResolution } from "../query-format.js";
import { SOURCE_OPTIONS, withBackend } from "../query-source.js";
import { UsageError, usageOnBadParameter } from "../usage-error.js";

export async function resolveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...SOURCE_OPTIONS,
      project: { type: "string" },
      panic: { type: "boolean" },
      json: { type: "boolean" },
    },
    3,
  );
  const [domain, category, provider] = positionals;
  if (domain === undefined || category === undefined) {
    throw new UsageError("resolve needs DOMAIN and CATEGORY (and optionally PROVIDER)");
  }
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

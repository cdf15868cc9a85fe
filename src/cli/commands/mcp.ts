/** `oneiric-healthd mcp`: an MCP server on stdin/stdout, until the client leaves or a stop signal. */
import { packageVersion } from "../../package-version.js";
import type { CommandLine } from "../command-spec.js";
import type { MCP_COMMAND } from "../command-specs.js";
import { abortingOnStopSignal } from "../process-signals.js";
import { withBackend } from "../query-source.js";

export async function mcpCommand({ values }: CommandLine<typeof MCP_COMMAND>): Promise<number> {
  return withBackend(values, (backend) =>
    abortingOnStopSignal(async (signal) => {
      // Loaded only here: no other command needs the MCP SDK.
      const { runMcpStdio } = await import("../../api/mcp/mcp-stdio.js");
      // Ends when the client closes stdin, or on SIGINT/SIGTERM.
      await runMcpStdio(backend, { version: packageVersion(), signal });
      return 0;
    }),
  );
}

/** `oneiric-healthd mcp`: an MCP server on stdin/stdout, until the client leaves or a stop signal. */
import { packageVersion } from "../../package-version.js";
import { parse } from "../arguments.js";
import { abortingOnStopSignal } from "../process-signals.js";
import { SOURCE_OPTIONS, withBackend } from "../query-source.js";

export async function mcpCommand(args: string[]): Promise<number> {
  const { values } = parse(args, SOURCE_OPTIONS);
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

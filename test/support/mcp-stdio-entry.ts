/**
 * Test-only entry: `node --import tsx test/support/mcp-stdio-entry.ts --db PATH`
 * serves MCP on stdio from a database file (read-only), like `oneiric-healthd
 * mcp --db PATH` will. Exits when the client closes stdin.
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { runMcpStdio } from "../../src/api/mcp/mcp-stdio.js";
import { testFileBackend } from "./mcp-file-backend.js";

const { values } = parseArgs({ options: { db: { type: "string" } } });
if (!values.db) {
  process.stderr.write("usage: mcp-stdio-entry.ts --db PATH\n");
  process.exit(64);
}
await runMcpStdio(testFileBackend(values.db), {
  version: "0.0.0-test",
  logger: pino({ level: "warn" }, pino.destination(2)),
});
process.exit(0);

import { readFileSync } from "node:fs";

/**
 * The version in package.json, read at run time so the MCP server's handshake
 * names the version actually installed. The path holds from src/ (tsx)
 * and from dist/ (compiled) alike.
 */
export function packageVersion(): string {
  try {
    const text = readFileSync(new URL("../package.json", import.meta.url), "utf8");
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === "string" ? version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/**
 * The two resources: oneiric://adapters (every adapter, JSON) and
 * oneiric://adapters/{adapter_id} (one adapter's details, JSON), and how their
 * URIs are built and read back.
 */
import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { McpError, type ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import type { QueryBackend } from "../query-backend.js";
import { RESOURCE_NOT_FOUND, resourceError } from "./mcp-errors.js";
import { adapterLine } from "./mcp-tool-texts.js";

export const ADAPTERS_URI = "oneiric://adapters";
const ADAPTER_URI_PREFIX = `${ADAPTERS_URI}/`;
export const ADAPTER_URI_TEMPLATE = `${ADAPTER_URI_PREFIX}{adapter_id}`;

export function adapterUri(adapterId: string): string {
  return `${ADAPTER_URI_PREFIX}${encodeURIComponent(adapterId)}`;
}

/** "list", an adapter id, or undefined when `uri` is none of this server's resources. */
export function resourceOf(
  uri: string,
): { kind: "list" } | { kind: "adapter"; id: string } | undefined {
  if (uri === ADAPTERS_URI) return { kind: "list" };
  if (!uri.startsWith(ADAPTER_URI_PREFIX)) return undefined;
  const rest = uri.slice(ADAPTER_URI_PREFIX.length);
  if (rest.length === 0 || rest.includes("/")) return undefined;
  try {
    return { kind: "adapter", id: decodeURIComponent(rest) };
  } catch {
    return undefined;
  }
}

function jsonContents(uri: string, value: unknown): ReadResourceResult {
  return {
    contents: [{ uri, mimeType: "application/json", text: JSON.stringify(value, null, 2) }],
  };
}

export function registerResources(mcp: McpServer, backend: QueryBackend): void {
  mcp.registerResource(
    "adapters",
    ADAPTERS_URI,
    {
      title: "Adapters",
      description: "Every adapter with its health verdict, and the registry link (JSON).",
      mimeType: "application/json",
    },
    async (uri) => {
      try {
        const { adapters, registry } = await backend.listAdapters({});
        return jsonContents(uri.href, { count: adapters.length, adapters, registry });
      } catch (error) {
        throw resourceError(error, uri.href);
      }
    },
  );

  mcp.registerResource(
    "adapter",
    new ResourceTemplate(ADAPTER_URI_TEMPLATE, {
      list: async () => {
        const { adapters } = await backend.listAdapters({});
        return {
          resources: adapters.map((adapter) => ({
            uri: adapterUri(adapter.adapter_id),
            name: adapter.adapter_id,
            description: adapterLine(adapter),
            mimeType: "application/json",
          })),
        };
      },
      complete: {
        adapter_id: async (value) => {
          const { adapters } = await backend.listAdapters({});
          return adapters
            .map((adapter) => adapter.adapter_id)
            .filter((id) => id.startsWith(value))
            .slice(0, 100);
        },
      },
    }),
    {
      title: "Adapter",
      description: "One adapter's details, health verdict and recent checks (JSON).",
      mimeType: "application/json",
    },
    async (uri) => {
      const resource = resourceOf(uri.href);
      if (resource?.kind !== "adapter") {
        throw new McpError(RESOURCE_NOT_FOUND, `no resource ${uri.href}`, { uri: uri.href });
      }
      try {
        return jsonContents(uri.href, await backend.getAdapter(resource.id));
      } catch (error) {
        throw resourceError(error, uri.href);
      }
    },
  );
}

/**
 * resources/subscribe and resources/unsubscribe, and the update notifications
 * they ask for. The journal is followed only while something is subscribed:
 * from the first subscription to the last unsubscription or the session's end.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  ErrorCode,
  McpError,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { JournalDelivery, JournalFollower } from "./journal-follower.js";
import { ADAPTER_URI_TEMPLATE, ADAPTERS_URI, resourceOf } from "./mcp-resources.js";

const MAX_SUBSCRIPTIONS = 1000;

/** `follow` starts following the journal, delivering to the function it is given. */
export function enableSubscriptions(
  mcp: McpServer,
  follow: (deliver: JournalDelivery) => JournalFollower,
): void {
  // adapter id → the URI the client subscribed with (notifications echo it).
  const adapters = new Map<string, string>();
  let list = false;
  let follower: JournalFollower | undefined;

  const notify = (uri: string) => {
    mcp.server.sendResourceUpdated({ uri }).catch(() => {
      // The session is closing; nothing to tell.
    });
  };
  const deliver: JournalDelivery = (events) => {
    if (events === "gap") {
      if (list) notify(ADAPTERS_URI);
      for (const uri of adapters.values()) notify(uri);
      return;
    }
    if (events.length === 0) return;
    // Every event changes the list (an adapter's state or the registry link); one notice per batch.
    if (list) notify(ADAPTERS_URI);
    const touched = new Set<string>();
    for (const event of events) {
      const uri = adapters.get(event.subject);
      if (uri !== undefined) touched.add(uri);
    }
    for (const uri of touched) notify(uri);
  };
  const stopFollowing = () => {
    follower?.close();
    follower = undefined;
  };

  mcp.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    const uri = request.params.uri;
    const resource = resourceOf(uri);
    if (!resource) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `cannot subscribe to ${uri}: not a resource of this server (${ADAPTERS_URI} or ${ADAPTER_URI_TEMPLATE})`,
      );
    }
    if (resource.kind === "list") {
      list = true;
    } else if (!adapters.has(resource.id)) {
      if (adapters.size >= MAX_SUBSCRIPTIONS) {
        throw new McpError(
          ErrorCode.InvalidRequest,
          `at most ${MAX_SUBSCRIPTIONS} adapter subscriptions per session; subscribe to ${ADAPTERS_URI} instead`,
        );
      }
      adapters.set(resource.id, uri);
    }
    if (!follower) follower = follow(deliver);
    await follower.ready;
    return {};
  });

  mcp.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    const resource = resourceOf(request.params.uri);
    if (resource?.kind === "list") list = false;
    if (resource?.kind === "adapter") adapters.delete(resource.id);
    if (!list && adapters.size === 0) stopFollowing();
    return {};
  });

  const previous = mcp.server.onclose;
  mcp.server.onclose = () => {
    stopFollowing();
    adapters.clear();
    list = false;
    previous?.();
  };
}

/**
 * One registry address whose behaviour the test switches while the daemon runs:
 * forwarding to a real registry, not listening at all, or forwarding to a server
 * that answers garbage. Every switch cuts the connections open at the time, so the
 * daemon's next call meets the new behaviour.
 */
import {
  createServer as createHttp2Server,
  type Http2Server,
  type ServerHttp2Session,
} from "node:http2";
import { connect, createServer, type Server, type Socket } from "node:net";

export type FrontMode =
  | { kind: "forward"; port: number }
  /** Connection refused: nothing listens on the address. */
  | { kind: "down" };

export class RegistryFront {
  private server: Server | undefined;
  private mode: FrontMode = { kind: "down" };
  private readonly sockets = new Set<Socket>();

  private constructor(readonly port: number) {}

  /** Takes a free port (and starts down: nothing listens until `switchTo`). */
  static async reserve(): Promise<RegistryFront> {
    const probe = createServer();
    const port = await new Promise<number>((resolve) =>
      probe.listen(0, "127.0.0.1", () => resolve((probe.address() as { port: number }).port)),
    );
    await new Promise((resolve) => probe.close(resolve));
    return new RegistryFront(port);
  }

  async switchTo(mode: FrontMode): Promise<void> {
    this.mode = mode;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (mode.kind === "down") {
      await this.close();
      return;
    }
    if (this.server) return;
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  private accept(client: Socket): void {
    const mode = this.mode;
    if (mode.kind !== "forward") {
      client.destroy();
      return;
    }
    const upstream = connect(mode.port, "127.0.0.1");
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/**
 * HTTP/2 servers that are not a registry: one answers every gRPC call with a
 * message frame cut short (its length prefix promises more than follows), one is a
 * plain web server answering HTML.
 */
export async function startGarbageHttp2(kind: "truncated-frame" | "not-grpc"): Promise<{
  port: number;
  stop: () => Promise<void>;
}> {
  const server: Http2Server = createHttp2Server();
  const open = new Set<ServerHttp2Session>();
  server.on("session", (session) => {
    open.add(session);
    session.on("close", () => open.delete(session));
  });
  server.on("stream", (stream) => {
    stream.on("error", () => {});
    if (kind === "not-grpc") {
      stream.respond({ ":status": 200, "content-type": "text/html" });
      stream.end("<html><body>It works!</body></html>");
      return;
    }
    stream.respond(
      { ":status": 200, "content-type": "application/grpc" },
      { waitForTrailers: true },
    );
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    // Not compressed, 1,000 bytes promised; 5 bytes of them sent.
    const frame = Buffer.alloc(10);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(1_000, 1);
    frame.write("\u000a\u0003abc", 5, "latin1");
    stream.end(frame);
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Open sessions would hold close() until they end.
        for (const session of open) session.destroy();
      }),
  };
}

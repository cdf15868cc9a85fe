/** One parsed Server-Sent Event. */
export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
  /** When this client had the whole message (Date.now()), for delivery-time assertions. */
  receivedAtMs: number;
}

/**
 * A small SSE client over fetch, for tests: collects messages and comment lines
 * until aborted, so a test can disconnect at a chosen point and resume with
 * Last-Event-ID.
 */
export class SseClient {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  status = 0;
  private readonly controller = new AbortController();
  readonly done: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.done = this.run(url, headers);
  }

  close(): void {
    this.controller.abort();
  }

  /** Waits until `predicate` holds (polling), or fails after `timeoutMs`. */
  async until(predicate: (client: SseClient) => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline)
        throw new Error(`SSE condition not met; got ${this.messages.length} messages`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async run(url: string, headers: Record<string, string>): Promise<void> {
    try {
      const response = await fetch(url, {
        headers: { accept: "text/event-stream", ...headers },
        signal: this.controller.signal,
      });
      this.status = response.status;
      if (!response.body) return;
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let boundary = buffer.indexOf("\n\n");
        while (boundary >= 0) {
          this.parseBlock(buffer.slice(0, boundary));
          buffer = buffer.slice(boundary + 2);
          boundary = buffer.indexOf("\n\n");
        }
      }
    } catch (error) {
      if ((error as Error).name !== "AbortError") throw error;
    }
  }

  private parseBlock(block: string): void {
    const message: SseMessage = {
      id: undefined,
      event: undefined,
      data: "",
      receivedAtMs: Date.now(),
    };
    let hasData = false;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) this.comments.push(line.slice(1).trim());
      else if (line.startsWith("id: ")) message.id = line.slice(4);
      else if (line.startsWith("event: ")) message.event = line.slice(7);
      else if (line.startsWith("data: ")) {
        message.data += line.slice(6);
        hasData = true;
      }
    }
    if (hasData) this.messages.push(message);
  }
}

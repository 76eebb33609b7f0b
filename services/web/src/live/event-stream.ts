import { createSseParser } from "./sse-parser.ts";

export type StreamStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface EventStreamOptions {
  /** Same-origin path, e.g. /api/events. */
  url: string;
  /** Read before every (re)connection: a new sign-in is picked up. */
  token: () => string | undefined;
  onEvent: (name: string, data: unknown) => void;
  onStatus: (status: StreamStatus) => void;
  /** The server refused the token (401): the stream stops. */
  onUnauthorized: () => void;
  /** Upper bound of the delay between reconnections. */
  maxDelayMs?: number;
}

/**
 * A Server-Sent Events stream read with fetch, so the request carries the same bearer header
 * as every API call — never a token in the URL — and a 401 is seen as a 401 (EventSource
 * hides the status, and would keep retrying with a cookie that may belong to another tab's
 * sign-in). Reconnects after the server's `retry:` delay, doubling on repeated failures.
 */
export function openEventStream(options: EventStreamOptions): { close(): void } {
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  let retryMs = 3_000;
  let failures = 0;
  let closed = false;
  let controller: AbortController | undefined;
  let wake: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const run = async () => {
    let opened = false;
    while (!closed) {
      options.onStatus(opened ? "reconnecting" : "connecting");
      controller = new AbortController();
      try {
        const token = options.token();
        const response = await globalThis.fetch(options.url, {
          headers: {
            accept: "text/event-stream",
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          cache: "no-store",
          signal: controller.signal,
        });
        if (response.status === 401) {
          closed = true;
          options.onStatus("closed");
          options.onUnauthorized();
          return;
        }
        if (!response.ok || !response.body)
          throw new Error(`event stream: HTTP ${response.status}`);
        opened = true;
        failures = 0;
        options.onStatus("open");
        await read(response.body);
      } catch {
        failures += 1;
      }
      if (closed) break;
      options.onStatus("reconnecting");
      const backoff = Math.min(maxDelayMs, retryMs * 2 ** Math.max(0, failures - 1));
      // Jitter: every tab of every user must not come back in the same second.
      await sleep(backoff / 2 + Math.random() * (backoff / 2));
    }
  };

  const read = async (body: ReadableStream<Uint8Array>) => {
    const parser = createSseParser({
      onEvent: ({ event, data }) => {
        let parsed: unknown = data;
        try {
          parsed = JSON.parse(data);
        } catch {
          // Not JSON: handed over as text.
        }
        options.onEvent(event, parsed);
      },
      onRetry: (ms) => {
        retryMs = ms;
      },
    });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        parser.push(decoder.decode(value, { stream: true }));
      }
    } finally {
      reader.releaseLock();
    }
  };

  void run();
  return {
    close() {
      if (closed) return;
      closed = true;
      controller?.abort();
      wake?.();
    },
  };
}

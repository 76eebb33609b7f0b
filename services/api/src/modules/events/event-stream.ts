import type { ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

const HEARTBEAT_MS = 15_000;

/** Writes one event to the stream. */
export type SendEvent = (event: string, data: unknown) => void;

/**
 * Server-Sent Events for a route plugin: `open(request, reply, subscribe)` subscribes first
 * (so a failure is still an ordinary error answer), then takes over the response, sends a
 * comment every 15 s so proxies keep it open, and unsubscribes when the client goes.
 */
export function eventStreams(app: FastifyInstance) {
  const open = new Set<ServerResponse>();
  // preClose, not onClose: the server's close waits for open connections, and a stream
  // never ends by itself.
  app.addHook("preClose", async () => {
    for (const stream of open) stream.end();
  });

  return async (
    request: FastifyRequest,
    reply: FastifyReply,
    subscribe: (send: SendEvent) => Promise<() => void>,
  ) => {
    const raw = reply.raw;
    let unsubscribe: (() => void) | undefined;
    // One NOTIFY carries up to 50 changes, dispatched in one go: they are gathered until the
    // next tick and leave as one write — one chunk of the chunked response and one system
    // call, not one of each per event (the client parses one chunk, too).
    let gathered = "";
    const flush = () => {
      const events = gathered;
      gathered = "";
      if (!raw.writableEnded && !raw.destroyed) raw.write(events);
    };
    try {
      unsubscribe = await subscribe((event, data) => {
        if (gathered === "") process.nextTick(flush);
        gathered += `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      });
    } catch (error) {
      request.log.error({ err: error }, "cannot subscribe to task events");
      throw error;
    }
    reply.hijack();
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    raw.write("retry: 3000\n: connected\n\n");
    open.add(raw);
    const heartbeat = setInterval(() => raw.write(": ping\n\n"), HEARTBEAT_MS);
    heartbeat.unref();
    request.raw.once("close", () => {
      clearInterval(heartbeat);
      unsubscribe?.();
      open.delete(raw);
    });
  };
}

import type { ServerResponse } from "node:http";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { TaskEventHub } from "./task-event-hub.ts";

const HEARTBEAT_MS = 15_000;

/**
 * GET /api/events: the caller's task changes as Server-Sent Events (`task.updated`). Auth is
 * the bearer header or the HttpOnly session cookie set at login (EventSource sends no
 * headers); a token in the URL is never accepted.
 */
export const eventRoutes: FastifyPluginAsyncTypebox<{ hub: TaskEventHub }> = async (
  app,
  { hub },
) => {
  const open = new Set<ServerResponse>();
  // preClose, not onClose: the server's close waits for open connections, and a stream
  // never ends by itself.
  app.addHook("preClose", async () => {
    for (const stream of open) stream.end();
  });

  app.get(
    "",
    {
      onRequest: app.authenticate,
      schema: {
        tags: ["events"],
        summary: "Live task updates (text/event-stream)",
        description:
          'Each change is `event: task.updated` with `data: {"id": ..., "status": ...}`. A comment line every 15 s keeps proxies from closing the stream.',
        security: [{ bearerAuth: [] }, { sessionCookie: [] }],
        response: {
          200: Type.String({ description: "text/event-stream" }),
          401: Type.Ref("Problem"),
        },
      },
    },
    async (request, reply) => {
      const ownerId = request.user.id;
      const raw = reply.raw;
      let unsubscribe: (() => void) | undefined;
      try {
        unsubscribe = await hub.subscribe(ownerId, (change) => {
          raw.write(
            `event: task.updated\ndata: ${JSON.stringify({ id: change.id, status: change.status })}\n\n`,
          );
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
    },
  );
};

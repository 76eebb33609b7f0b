import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { eventStreams } from "./event-stream.ts";
import type { TaskEventHub } from "./task-event-hub.ts";

/**
 * GET /api/events: the caller's task changes as Server-Sent Events (`task.updated`). Auth is
 * the bearer header or the HttpOnly session cookie set at login (EventSource sends no
 * headers); a token in the URL is never accepted.
 */
export const eventRoutes: FastifyPluginAsyncTypebox<{ hub: TaskEventHub }> = async (
  app,
  { hub },
) => {
  const stream = eventStreams(app);

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
    async (request, reply) =>
      stream(request, reply, (send) =>
        hub.subscribe(request.user.id, (change) =>
          send("task.updated", { id: change.id, status: change.status }),
        ),
      ),
  );
};

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { eventStreams } from "./event-stream.ts";
import type { NotificationHub } from "./notification-hub.ts";
import type { TaskEventHub } from "./task-event-hub.ts";

/**
 * GET /api/events: the caller's task changes (`task.updated`) and new notifications
 * (`notification.created`) as Server-Sent Events. Auth is the bearer header or the HttpOnly
 * session cookie set at login (EventSource sends no headers); a token in the URL is never
 * accepted.
 */
export const eventRoutes: FastifyPluginAsyncTypebox<{
  hub: TaskEventHub;
  notifications: NotificationHub;
}> = async (app, { hub, notifications }) => {
  const stream = eventStreams(app);

  app.get(
    "",
    {
      onRequest: app.authenticate,
      schema: {
        tags: ["events"],
        summary: "Live task updates and notifications (text/event-stream)",
        description:
          'Each task change is `event: task.updated` with `data: {"id": ..., "status": ...}`; each new notification `event: notification.created` with `data: {"id": ..., "kind": ..., "title": ...}`. A comment line every 15 s keeps proxies from closing the stream.',
        security: [{ bearerAuth: [] }, { sessionCookie: [] }],
        response: {
          200: {
            description: "text/event-stream",
            content: { "text/event-stream": { schema: Type.String() } },
          },
          401: Type.Ref("Problem"),
        },
      },
    },
    async (request, reply) =>
      stream(request, reply, async (send) => {
        const owner = request.user.id;
        const stopTasks = await hub.subscribe(owner, (change) =>
          send("task.updated", { id: change.id, status: change.status }),
        );
        try {
          const stopNotifications = await notifications.subscribe(owner, (n) =>
            send("notification.created", { id: n.id, kind: n.kind, title: n.title }),
          );
          return () => {
            stopTasks();
            stopNotifications();
          };
        } catch (error) {
          stopTasks();
          throw error;
        }
      }),
  );
};

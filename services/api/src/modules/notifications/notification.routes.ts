import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { type NotificationRepository, toNotificationView } from "@taskflow/notifications";
import { decodeCursor, encodeCursor, isUuid } from "../../http/cursor.ts";
import { HttpProblem } from "../../http/problem.ts";

const problem = Type.Ref("Problem");
const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { sessionCookie: [] }];

export const NotificationSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    kind: Type.String({ examples: ["order.confirmed"] }),
    title: Type.String(),
    body: Type.String(),
    data: Type.Record(Type.String(), Type.Unknown()),
    read: Type.Boolean(),
    created_at: Type.String({ format: "date-time" }),
  },
  { $id: "Notification", title: "Notification" },
);

export const NotificationPageSchema = Type.Object(
  {
    items: Type.Array(Type.Ref("Notification")),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
    unread_count: Type.Integer({ minimum: 0, description: "All the caller's unread ones" }),
  },
  { $id: "NotificationPage", title: "NotificationPage" },
);

/** /api/notifications: the caller's notifications, newest first, and marking them read. */
export const notificationRoutes: FastifyPluginAsyncTypebox<{
  notifications: NotificationRepository;
}> = async (app, { notifications }) => {
  app.addHook("onRequest", app.authenticate);

  app.get(
    "",
    {
      schema: {
        tags: ["notifications"],
        summary: "The caller's notifications, newest first, with the unread count",
        security,
        querystring: Type.Object(
          {
            unread: Type.Optional(Type.Boolean({ description: "Only the unread ones" })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
            cursor: Type.Optional(Type.String({ maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref("NotificationPage"), 401: problem, 422: problem },
      },
    },
    async (request) => {
      const owner = request.user.id;
      const { limit = 20, cursor, unread } = request.query;
      const [page, unreadCount] = await Promise.all([
        notifications.list(owner, {
          limit,
          after: cursor ? decodeCursor(cursor) : undefined,
          unread: unread === true,
        }),
        notifications.unreadCount(owner),
      ]);
      return {
        items: page.items.map(toNotificationView),
        next_cursor: page.nextCursor ? encodeCursor(page.nextCursor) : null,
        unread_count: unreadCount,
      };
    },
  );

  app.post(
    "/:id/read",
    {
      schema: {
        tags: ["notifications"],
        summary: "Mark a notification read",
        security,
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        response: { 200: Type.Ref("Notification"), 401: problem, 404: problem },
      },
    },
    async (request) => {
      const { id } = request.params;
      const row = isUuid(id) ? await notifications.markRead(request.user.id, id) : undefined;
      if (!row) throw new HttpProblem(404, "no such notification");
      return toNotificationView(row);
    },
  );
};

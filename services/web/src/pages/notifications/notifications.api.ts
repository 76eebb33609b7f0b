import { api, type Schemas, unwrap } from "../../api/client.ts";

export type Notification = Schemas["Notification"];
export type NotificationPage = Schemas["NotificationPage"];

/** The notification calls; every page carries the caller's unread count. */
export const notificationsApi = {
  list(query: { unread?: boolean | undefined; cursor?: string | undefined; limit?: number }) {
    return unwrap(api.GET("/api/notifications", { params: { query } }));
  },
  markRead(id: string) {
    return unwrap(api.POST("/api/notifications/{id}/read", { params: { path: { id } } }));
  },
};

/** The order a notification is about (order.confirmed carries `data.order_id`). */
export function orderIdOf(notification: Notification): string | undefined {
  const id = notification.data.order_id;
  return typeof id === "string" ? id : undefined;
}

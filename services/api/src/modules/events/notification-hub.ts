import type { DatabaseHandle } from "@taskflow/db";
import { NOTIFICATIONS_CHANNEL, type NotificationCreated } from "@taskflow/notifications";
import { createOwnerEventHub, type OwnerEventHub } from "./owner-event-hub.ts";

/** Committed notifications (a NOTIFY carries a JSON array of them), by owner. */
export function createNotificationHub(database: DatabaseHandle, onError: (error: unknown) => void) {
  return createOwnerEventHub<NotificationCreated>(
    database,
    NOTIFICATIONS_CHANNEL,
    (payload) => JSON.parse(payload) as NotificationCreated[],
    onError,
  );
}

export type NotificationHub = OwnerEventHub<NotificationCreated>;

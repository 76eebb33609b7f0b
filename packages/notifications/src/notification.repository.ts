import {
  appendToOutbox,
  type Database,
  type Kysely,
  type NotificationRow,
  pageOf,
  sql,
} from "@taskflow/db";
import { formatMoney, orderConfirmationEmailJob } from "@taskflow/mail";
import { type EventEnvelope, JOB_QUEUE_DESTINATION } from "@taskflow/messaging";
import type { OrderCreated } from "@taskflow/orders";
import { uuidv7 } from "uuidv7";

/** NOTIFY channel of committed notifications (JSON NotificationCreated), for live streams. */
export const NOTIFICATIONS_CHANNEL = "taskflow_notifications";

/** What live listeners are told when a notification is committed. */
export interface NotificationCreated {
  owner_id: string;
  id: string;
  kind: string;
  title: string;
}

export interface NotificationView {
  id: string;
  kind: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  read: boolean;
  created_at: string;
}

export function toNotificationView(row: NotificationRow): NotificationView {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    body: row.body,
    data: row.data,
    read: row.read_at !== null,
    created_at: row.created_at.toISOString(),
  };
}

export function createNotificationRepository(db: Kysely<Database>) {
  return {
    /**
     * The notification of an order.created event, its confirmation email (a job, through the
     * outbox) and the live NOTIFY, in one transaction — once per event id: a redelivered event
     * changes nothing and answers false. An order whose owner is gone makes nothing.
     */
    async recordOrderCreated(event: EventEnvelope<OrderCreated>): Promise<boolean> {
      const order = event.data;
      return db.transaction().execute(async (trx) => {
        const owner = await trx
          .selectFrom("users")
          .select(["email", "name"])
          .where("id", "=", order.owner_id)
          .executeTakeFirst();
        if (!owner) return false;
        const lines = order.items.reduce((n, line) => n + line.quantity, 0);
        const notification = await trx
          .insertInto("notifications")
          .values({
            id: uuidv7(),
            owner_id: order.owner_id,
            event_id: event.id,
            kind: "order.confirmed",
            title: "Order confirmed",
            body: `${lines} item${lines === 1 ? "" : "s"}, ${formatMoney(order.total_cents, order.currency)}`,
            data: JSON.stringify({ order_id: order.order_id, total_cents: order.total_cents }),
          })
          .onConflict((oc) => oc.column("event_id").doNothing())
          .returning(["id", "owner_id", "kind", "title"])
          .executeTakeFirst();
        if (!notification) return false;
        await appendToOutbox(trx, [
          {
            destination: JOB_QUEUE_DESTINATION,
            payload: orderConfirmationEmailJob({
              order_id: order.order_id,
              to: owner.email,
              name: owner.name,
              items: order.items.map((line) => ({
                sku: line.sku,
                name: line.name,
                quantity: line.quantity,
                line_total_cents: line.line_total_cents,
              })),
              total_cents: order.total_cents,
              currency: order.currency,
              created_at: order.created_at,
            }),
          },
        ]);
        const told: NotificationCreated = notification;
        await sql`SELECT pg_notify(${NOTIFICATIONS_CHANNEL}, ${JSON.stringify(told)})`.execute(trx);
        return true;
      });
    },

    /** Newest first; the cursor is the last id of the previous page. */
    async list(
      ownerId: string,
      { limit, after, unread }: { limit: number; after?: string | undefined; unread?: boolean },
    ) {
      let query = db
        .selectFrom("notifications")
        .selectAll()
        .where("owner_id", "=", ownerId)
        .orderBy("id", "desc")
        .limit(limit + 1);
      if (after) query = query.where("id", "<", after);
      if (unread) query = query.where("read_at", "is", null);
      const rows = await query.execute();
      return pageOf(rows, limit);
    },

    async unreadCount(ownerId: string): Promise<number> {
      const row = await db
        .selectFrom("notifications")
        .select(sql<number>`count(*)::int`.as("n"))
        .where("owner_id", "=", ownerId)
        .where("read_at", "is", null)
        .executeTakeFirstOrThrow();
      return row.n;
    },

    /** Marks it read (once: a second call keeps the first time); undefined if not the owner's. */
    async markRead(ownerId: string, id: string): Promise<NotificationRow | undefined> {
      return db
        .updateTable("notifications")
        .set({ read_at: sql`coalesce(read_at, now())` })
        .where("id", "=", id)
        .where("owner_id", "=", ownerId)
        .returningAll()
        .executeTakeFirst();
    },
  };
}

export type NotificationRepository = ReturnType<typeof createNotificationRepository>;

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

/** NOTIFY channel of committed notifications (a JSON array of NotificationCreated), for live streams. */
export const NOTIFICATIONS_CHANNEL = "taskflow_notifications";
const NOTIFICATIONS_PER_NOTICE = 50;

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
     * The notifications of order.created events, their confirmation emails (jobs, through
     * the outbox) and the live NOTIFYs, in one transaction — once per event id: an event
     * already recorded (a redelivery) changes nothing. Answers, per event, whether it made a
     * notification (false: recorded before, or its owner is gone).
     */
    async recordOrdersCreated(
      events: readonly EventEnvelope<OrderCreated>[],
      /** Per event id, the trace context its email job carries (message headers). */
      traceparents?: ReadonlyMap<string, string>,
    ): Promise<boolean[]> {
      if (events.length === 0) return [];
      // The same event twice in one batch (a redelivery next to its first delivery) counts once.
      const unique = [...new Map(events.map((e) => [e.id, e])).values()];
      const first = new Set(unique);
      return db.transaction().execute(async (trx) => {
        const owners = new Map(
          (
            await trx
              .selectFrom("users")
              .select(["id", "email", "name"])
              .where("id", "in", [...new Set(unique.map((e) => e.data.owner_id))])
              .execute()
          ).map((u) => [u.id, u]),
        );
        const kept = unique.filter((e) => owners.has(e.data.owner_id));
        const made =
          kept.length === 0
            ? []
            : await trx
                .insertInto("notifications")
                .values(
                  kept.map((event) => {
                    const order = event.data;
                    const lines = order.items.reduce((n, line) => n + line.quantity, 0);
                    return {
                      id: uuidv7(),
                      owner_id: order.owner_id,
                      event_id: event.id,
                      kind: "order.confirmed",
                      title: "Order confirmed",
                      body: `${lines} item${lines === 1 ? "" : "s"}, ${formatMoney(order.total_cents, order.currency)}`,
                      data: JSON.stringify({
                        order_id: order.order_id,
                        total_cents: order.total_cents,
                      }),
                    };
                  }),
                )
                .onConflict((oc) => oc.column("event_id").doNothing())
                .returning(["id", "owner_id", "kind", "title", "event_id"])
                .execute();
        const madeFor = new Set(made.map((n) => n.event_id));
        const fresh = kept.filter((e) => madeFor.has(e.id));
        await appendToOutbox(
          trx,
          fresh.map((event) => {
            const order = event.data;
            const owner = owners.get(order.owner_id);
            const traceparent = traceparents?.get(event.id);
            return {
              destination: JOB_QUEUE_DESTINATION,
              ...(traceparent && { headers: { traceparent } }),
              payload: orderConfirmationEmailJob({
                order_id: order.order_id,
                to: owner?.email ?? "",
                name: owner?.name ?? "",
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
            };
          }),
        );
        // One NOTIFY per notice of up to 50 (a payload is capped at 8000 bytes).
        for (let i = 0; i < made.length; i += NOTIFICATIONS_PER_NOTICE) {
          const told: NotificationCreated[] = made
            .slice(i, i + NOTIFICATIONS_PER_NOTICE)
            .map(({ id, owner_id, kind, title }) => ({ id, owner_id, kind, title }));
          await sql`SELECT pg_notify(${NOTIFICATIONS_CHANNEL}, ${JSON.stringify(told)})`.execute(
            trx,
          );
        }
        return events.map((e) => first.has(e) && madeFor.has(e.id));
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

import {
  appendToOutbox,
  type Database,
  type Kysely,
  type OrderRow,
  type OutboxMessage,
  pageOf,
  replayOf,
  storedUnderKeys,
} from "@taskflow/db";
import { EVENT_BUS_DESTINATION, eventEnvelope, eventStreamDestination } from "@taskflow/messaging";
import { uuidv7 } from "uuidv7";
import { ORDER_CREATED, ORDERS_TOPIC, type OrderCreated, type OrderLine } from "./order.ts";

/** An order the validator has priced. */
export interface NewOrder {
  ownerId: string;
  items: OrderLine[];
  totalCents: number;
  currency: string;
  note: string | null;
  idempotencyKey?: string | undefined;
  /** Fingerprint of the request body, to refuse a reused key with a different body. */
  requestHash?: string | undefined;
  /** Trace context (W3C headers) carried by the order's messages (with `traceparent`). */
  headers?: Record<string, string>;
  /** W3C trace context of the request: stored on the order, carried by its events. */
  traceparent?: string | undefined;
  /** How long the validator took, for the order's journey. */
  validatedMs?: number | undefined;
}

export type CreateOrderOutcome =
  | { kind: "created"; order: OrderRow }
  | { kind: "replayed"; order: OrderRow }
  | { kind: "key_reused"; order: OrderRow };

export interface OrderPage {
  items: OrderRow[];
  nextCursor: string | null;
}

/**
 * The order's `order.created` event, for the event bus (notifications) and for the `orders`
 * stream (analytics). Its id is the order's, so a journey finds what consumed it.
 */
function orderCreatedMessages(input: NewOrder, order: OrderRow): OutboxMessage[] {
  const event = eventEnvelope<OrderCreated>(
    ORDER_CREATED,
    {
      order_id: order.id,
      owner_id: order.owner_id,
      items: order.items,
      total_cents: Number(order.total_cents),
      currency: order.currency,
      created_at: order.created_at.toISOString(),
    },
    { id: order.id, occurredAt: order.created_at },
  );
  const headers = input.traceparent
    ? { ...input.headers, traceparent: input.traceparent }
    : (input.headers ?? {});
  return [
    { destination: EVENT_BUS_DESTINATION, key: ORDER_CREATED, payload: event, headers },
    { destination: eventStreamDestination(ORDERS_TOPIC), key: order.id, payload: event, headers },
  ];
}

/** The orders table's only writer; reads are scoped by owner. */
export function createOrderRepository(db: Kysely<Database>) {
  return {
    /**
     * Stores several orders and their events in one transaction of three statements, whatever
     * their number (the API group-commits the orders its requests place at the same time).
     * One outcome per input, in order. A reused Idempotency-Key replays its first order — also
     * when two inputs of one batch carry it: the first is stored, the others replay it.
     */
    async createMany(inputs: readonly NewOrder[]): Promise<CreateOrderOutcome[]> {
      if (inputs.length === 0) return [];
      return db.transaction().execute(async (trx) => {
        const ids = inputs.map(() => uuidv7());
        const inserted = await trx
          .insertInto("orders")
          .values(
            inputs.map((input, i) => ({
              id: ids[i] as string,
              owner_id: input.ownerId,
              status: "CONFIRMED" as const,
              items: JSON.stringify(input.items),
              total_cents: input.totalCents,
              currency: input.currency,
              note: input.note,
              idempotency_key: input.idempotencyKey ?? null,
              request_hash: input.requestHash ?? null,
              traceparent: input.traceparent ?? null,
              validated_ms: input.validatedMs ?? null,
            })),
          )
          .onConflict((oc) =>
            oc
              .columns(["owner_id", "idempotency_key"])
              .where("idempotency_key", "is not", null)
              .doNothing(),
          )
          .returningAll()
          .execute();
        const byId = new Map(inserted.map((order) => [order.id, order]));
        const skipped = inputs.filter((_, i) => !byId.has(ids[i] as string));
        // Reused keys (rare): the first order of each, committed by now (the insert waited for it).
        const existing = skipped.length
          ? await trx.selectFrom("orders").selectAll().where(storedUnderKeys(skipped)).execute()
          : [];
        await appendToOutbox(
          trx,
          inputs.flatMap((input, i) => {
            const order = byId.get(ids[i] as string);
            return order ? orderCreatedMessages(input, order) : [];
          }),
        );
        return inputs.map((input, i): CreateOrderOutcome => {
          const order = byId.get(ids[i] as string);
          if (order) return { kind: "created", order };
          const { kind, row } = replayOf(input, existing);
          return { kind, order: row };
        });
      });
    },

    async get(ownerId: string, id: string): Promise<OrderRow | undefined> {
      return db
        .selectFrom("orders")
        .selectAll()
        .where("id", "=", id)
        .where("owner_id", "=", ownerId)
        .executeTakeFirst();
    },

    /** Newest first; the cursor is the last id of the previous page (ids are time-ordered). */
    async list(
      ownerId: string,
      { limit, after }: { limit: number; after?: string | undefined },
    ): Promise<OrderPage> {
      let query = db
        .selectFrom("orders")
        .selectAll()
        .where("owner_id", "=", ownerId)
        .orderBy("id", "desc")
        .limit(limit + 1);
      if (after) query = query.where("id", "<", after);
      const rows = await query.execute();
      return pageOf(rows, limit);
    },
  };
}

export type OrderRepository = ReturnType<typeof createOrderRepository>;

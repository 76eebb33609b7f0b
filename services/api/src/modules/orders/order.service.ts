import { GroupCommitter } from "@taskflow/db";
import {
  type CreateOrderOutcome,
  type NewOrder,
  type OrderRepository,
  type OrderView,
  toOrderView,
} from "@taskflow/orders";
import { decodeCursor, encodeCursor, isUuid } from "../../http/cursor.ts";
import { requestFingerprint } from "../../http/fingerprint.ts";
import { HttpProblem } from "../../http/problem.ts";
import {
  fieldToPointer,
  type OrderValidator,
  type Product,
  ValidatorUnavailable,
} from "./order-validator.ts";

export interface CreateOrderInput {
  items: { sku: string; quantity: number }[];
  note?: string | undefined;
}

/** Seconds a client should wait before trying again while the validator is away. */
const RETRY_AFTER_SECONDS = 2;

const unavailable = () =>
  new HttpProblem(503, "order validation is unavailable; nothing was stored, retry shortly", {
    type: "urn:taskflow:problem:dependency-unavailable",
    headers: { "retry-after": String(RETRY_AFTER_SECONDS) },
  });

/**
 * The order use cases behind /api/orders and /api/products. The orders that requests place
 * at the same time are stored together (one transaction, one fsync, one wake-up of the relay):
 * one transaction per order made every order's commit wait for the previous one's.
 */
export function createOrderService(deps: {
  orders: OrderRepository;
  validator: OrderValidator;
  /** How long the validator may take (gRPC deadline). */
  validationDeadlineMs?: number;
  /** Told the size of each batch of orders stored together. */
  onBatch?: (size: number) => void;
}) {
  const { orders, validator } = deps;
  const deadlineMs = deps.validationDeadlineMs ?? 2_000;
  const creates = new GroupCommitter<NewOrder, CreateOrderOutcome>(
    (batch) => orders.createMany(batch),
    { onFlush: deps.onBatch },
  );

  return {
    /**
     * Validates with the validator service (its verdict and prices are final), then stores
     * the order with its events in one transaction. Nothing is written unless both succeed.
     */
    async create(
      ownerId: string,
      input: CreateOrderInput,
      options: {
        idempotencyKey?: string | undefined;
        /** W3C trace context of the request: sent to the validator, stored, carried by events. */
        traceparent?: string | undefined;
      } = {},
    ): Promise<{ order: OrderView; replayed: boolean }> {
      const requestHash = options.idempotencyKey ? requestFingerprint(input) : undefined;
      let verdict: Awaited<ReturnType<OrderValidator["validate"]>>;
      const validationStart = performance.now();
      try {
        verdict = await validator.validate(
          { items: input.items, note: input.note },
          { deadlineMs, traceparent: options.traceparent },
        );
      } catch (error) {
        if (error instanceof ValidatorUnavailable) throw unavailable();
        throw error;
      }
      if (!verdict.ok) {
        throw new HttpProblem(422, "the order cannot be placed", {
          type: "urn:taskflow:problem:validation",
          errors: verdict.errors.map((e) => ({
            path: fieldToPointer(e.field),
            message: e.message,
          })),
        });
      }
      const outcome = await creates.submit({
        ownerId,
        items: verdict.items,
        totalCents: verdict.totalCents,
        currency: verdict.currency,
        note: input.note ?? null,
        idempotencyKey: options.idempotencyKey,
        requestHash,
        traceparent: options.traceparent,
        validatedMs: Math.round(performance.now() - validationStart),
      });
      if (outcome.kind === "key_reused") {
        throw new HttpProblem(409, "this Idempotency-Key was used with a different request body");
      }
      return { order: toOrderView(outcome.order), replayed: outcome.kind === "replayed" };
    },

    async get(ownerId: string, id: string): Promise<OrderView> {
      // Someone else's order and no order at all answer the same: 404.
      const order = isUuid(id) ? await orders.get(ownerId, id) : undefined;
      if (!order) throw new HttpProblem(404, "no such order");
      return toOrderView(order);
    },

    async list(
      ownerId: string,
      query: { limit?: number | undefined; cursor?: string | undefined },
    ) {
      const page = await orders.list(ownerId, {
        limit: query.limit ?? 20,
        after: query.cursor ? decodeCursor(query.cursor) : undefined,
      });
      return {
        items: page.items.map(toOrderView),
        next_cursor: page.nextCursor ? encodeCursor(page.nextCursor) : null,
      };
    },

    async products(): Promise<Product[]> {
      try {
        return await validator.listProducts({ deadlineMs });
      } catch (error) {
        if (error instanceof ValidatorUnavailable) throw unavailable();
        throw error;
      }
    },
  };
}

export type OrderService = ReturnType<typeof createOrderService>;

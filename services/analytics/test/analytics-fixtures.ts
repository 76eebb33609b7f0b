import { randomUUID } from "node:crypto";
import type { Database, Kysely } from "@taskflow/db";
import {
  type EventEnvelope,
  eventEnvelope,
  type StoredRecord,
  type StreamRecord,
} from "@taskflow/messaging";
import { ORDER_CREATED, type OrderCreated } from "@taskflow/orders";
import { TASK_DONE, TASK_FAILED, type TaskFinished } from "@taskflow/tasks";

/** Events shaped as the relay publishes them, and what the aggregates must say about them. */

export const MINUTE = 60_000;

const PRODUCTS = [
  { sku: "KB-101", name: "Mechanical keyboard", unit: 7990 },
  { sku: "CB-USB", name: "USB-C cable", unit: 990 },
  { sku: "MS-200", name: "Wireless mouse", unit: 2490 },
  { sku: "HD-300", name: "Headset", unit: 5900 },
];

export function orderEvent(options: {
  createdAt: Date;
  currency?: string;
  lines: { product: number; quantity: number }[];
}): EventEnvelope<OrderCreated> {
  const items = options.lines.map(({ product, quantity }) => {
    const p = PRODUCTS[product % PRODUCTS.length] ?? PRODUCTS[0];
    if (!p) throw new Error("no product");
    return {
      sku: p.sku,
      name: p.name,
      quantity,
      unit_price_cents: p.unit,
      line_total_cents: p.unit * quantity,
    };
  });
  return eventEnvelope(ORDER_CREATED, {
    order_id: randomUUID(),
    owner_id: randomUUID(),
    items,
    total_cents: items.reduce((n, i) => n + i.line_total_cents, 0),
    currency: options.currency ?? "EUR",
    created_at: options.createdAt.toISOString(),
  });
}

export function taskEvent(options: {
  status: "DONE" | "FAILED";
  finishedAt: Date;
  durationMs: number;
}): EventEnvelope<TaskFinished> {
  const created = new Date(options.finishedAt.getTime() - options.durationMs);
  return eventEnvelope(options.status === "DONE" ? TASK_DONE : TASK_FAILED, {
    task_id: randomUUID(),
    owner_id: randomUUID(),
    type: "sleep",
    status: options.status,
    attempts: 1,
    created_at: created.toISOString(),
    started_at: created.toISOString(),
    finished_at: options.finishedAt.toISOString(),
  });
}

/** The stream record the relay appends for an event (id: the event's id; key: its entity). */
export function streamRecord(event: EventEnvelope): StreamRecord {
  const data = event.data as { order_id?: string; task_id?: string };
  return { id: event.id, key: data.order_id ?? data.task_id ?? event.id, value: event };
}

let offset = 0;
/** As a consumer receives it (for handler tests without a stream). */
export function storedRecord(topic: string, event: EventEnvelope): StoredRecord {
  return {
    ...streamRecord(event),
    topic,
    partition: 0,
    offset: String(offset++),
    appendedAt: new Date(),
  };
}

/** A varied, deterministic workload: orders in two currencies, DONE and FAILED tasks. */
export function workload(count: { orders: number; tasks: number }, start: Date) {
  const orders = Array.from({ length: count.orders }, (_, i) =>
    orderEvent({
      createdAt: new Date(start.getTime() + ((i * 7_919) % (5 * MINUTE))),
      currency: i % 5 === 0 ? "USD" : "EUR",
      lines: Array.from({ length: 1 + (i % 3) }, (_, j) => ({
        product: i + j,
        quantity: 1 + ((i + j) % 4),
      })),
    }),
  );
  const tasks = Array.from({ length: count.tasks }, (_, i) =>
    taskEvent({
      status: i % 7 === 3 ? "FAILED" : "DONE",
      finishedAt: new Date(start.getTime() + ((i * 6_133) % (5 * MINUTE))),
      durationMs: (i * 37) % 5_000,
    }),
  );
  return { orders, tasks };
}

/** `record[key]`, created as `init()` if missing. */
function entry<T>(record: Record<string, T>, key: string, init: () => T): T {
  const existing = record[key];
  if (existing !== undefined) return existing;
  const created = init();
  record[key] = created;
  return created;
}

const minuteKey = (iso: string) =>
  new Date(Math.floor(Date.parse(iso) / MINUTE) * MINUTE).toISOString();

/** What the aggregates must hold for these (distinct) events, computed independently. */
export function expectedAggregates(
  orders: readonly EventEnvelope<OrderCreated>[],
  tasks: readonly EventEnvelope<TaskFinished>[],
) {
  const orderMinutes: Record<string, { orders: number; revenue_cents: number }> = {};
  const products: Record<string, { quantity: number; revenue_cents: number }> = {};
  for (const { data } of orders) {
    const key = `${minuteKey(data.created_at)} ${data.currency}`;
    const row = entry(orderMinutes, key, () => ({ orders: 0, revenue_cents: 0 }));
    row.orders += 1;
    row.revenue_cents += data.total_cents;
    for (const item of data.items) {
      const p = entry(
        products,
        `${minuteKey(data.created_at)} ${item.sku} ${data.currency}`,
        () => ({
          quantity: 0,
          revenue_cents: 0,
        }),
      );
      p.quantity += item.quantity;
      p.revenue_cents += item.line_total_cents;
    }
  }
  const taskMinutes: Record<string, { completed: number; failed: number }> = {};
  const durations: Record<string, number[]> = {};
  for (const { data } of tasks) {
    const minute = minuteKey(data.finished_at);
    const row = entry(taskMinutes, minute, () => ({ completed: 0, failed: 0 }));
    if (data.status === "DONE") {
      row.completed += 1;
      entry(durations, minute, () => [] as number[]).push(
        Date.parse(data.finished_at) - Date.parse(data.created_at),
      );
    } else row.failed += 1;
  }
  return { orderMinutes, products, taskMinutes, durations };
}

/** The analytics tables as the same shapes (durations: counts per minute). */
export async function readAggregates(db: Kysely<Database>) {
  const [orderRows, productRows, taskRows, durationRows] = await Promise.all([
    db.selectFrom("analytics_order_minutes").selectAll().execute(),
    db.selectFrom("analytics_product_minutes").selectAll().execute(),
    db.selectFrom("analytics_task_minutes").selectAll().execute(),
    db
      .selectFrom("analytics_task_durations")
      .selectAll()
      .orderBy("minute")
      .orderBy("bucket")
      .execute(),
  ]);
  const orderMinutes: Record<string, { orders: number; revenue_cents: number }> = {};
  for (const r of orderRows)
    orderMinutes[`${r.minute.toISOString()} ${r.currency}`] = {
      orders: Number(r.orders),
      revenue_cents: Number(r.revenue_cents),
    };
  const products: Record<string, { quantity: number; revenue_cents: number }> = {};
  for (const r of productRows)
    products[`${r.minute.toISOString()} ${r.sku} ${r.currency}`] = {
      quantity: Number(r.quantity),
      revenue_cents: Number(r.revenue_cents),
    };
  const taskMinutes: Record<string, { completed: number; failed: number }> = {};
  for (const r of taskRows)
    taskMinutes[r.minute.toISOString()] = {
      completed: Number(r.completed),
      failed: Number(r.failed),
    };
  const histograms: Record<string, { bucket: number; value_ms: number; count: number }[]> = {};
  for (const r of durationRows)
    entry(histograms, r.minute.toISOString(), () => [] as (typeof histograms)[string]).push({
      bucket: r.bucket,
      value_ms: r.value_ms,
      count: Number(r.count),
    });
  return { orderMinutes, products, taskMinutes, histograms };
}

/** Nearest-rank percentile (the value at rank ⌈p·n⌉) of exact values. */
export function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const value = sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1];
  if (value === undefined) throw new Error("no values");
  return value;
}

/** Nearest-rank percentile read from a histogram's cumulative counts. */
export function histogramRank(
  buckets: readonly { bucket: number; value_ms: number; count: number }[],
  p: number,
): number {
  const total = buckets.reduce((n, b) => n + b.count, 0);
  const rank = Math.max(1, Math.ceil(p * total));
  let reached = 0;
  for (const b of [...buckets].sort((x, y) => x.bucket - y.bucket)) {
    reached += b.count;
    if (reached >= rank) return b.value_ms;
  }
  throw new Error("empty histogram");
}

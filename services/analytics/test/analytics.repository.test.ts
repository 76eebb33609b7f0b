import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import type { EventEnvelope } from "@taskflow/messaging";
import { createLogger } from "@taskflow/observability";
import { ORDERS_TOPIC } from "@taskflow/orders";
import { TASKS_TOPIC } from "@taskflow/tasks";
import { createTestDatabase, engineAvailable } from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";
import {
  type AnalyticsConsumerStats,
  analyticsBatchHandler,
  createAnalyticsRepository,
  DURATION_RELATIVE_ERROR,
} from "../src/index.ts";
import {
  expectedAggregates,
  histogramRank,
  MINUTE,
  nearestRank,
  orderEvent,
  readAggregates,
  storedRecord,
  taskEvent,
  workload,
} from "./analytics-fixtures.ts";

const silent = createLogger({ level: "silent", service: "analytics-test" });
const newStats = (): AnalyticsConsumerStats => ({
  inFlight: 0,
  processed: 0,
  failed: 0,
  duplicates: 0,
  ignored: 0,
});

const databases: Record<
  string,
  () => Promise<{ database: DatabaseHandle; drop(): Promise<void> } | undefined>
> = {
  PostgreSQL: async () => {
    if (!(await engineAvailable("postgres"))) return undefined;
    const testDb = await createTestDatabase("taskflow_analytics");
    const database = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 8 });
    await migrateUp(database.db);
    return {
      database,
      drop: async () => {
        await database.close();
        await testDb.drop();
      },
    };
  },
  PGlite: async () => {
    const database = await createDatabase({ dataDir: "memory://" });
    await migrateUp(database.db);
    return { database, drop: () => database.close() };
  },
};

for (const [name, open] of Object.entries(databases)) {
  describe(`the analytics aggregates on ${name}`, async () => {
    const opened = await open();
    afterAll(async () => opened?.drop());
    const database = () => {
      if (!opened) throw new Error("no database");
      return opened.database;
    };
    const reset = () => createAnalyticsRepository(database().db).reset("analytics");

    function handlers(stats = newStats()) {
      const repository = createAnalyticsRepository(database().db);
      const options = { repository, group: "analytics", logger: silent, stats };
      return {
        stats,
        orders: analyticsBatchHandler(ORDERS_TOPIC, options),
        tasks: analyticsBatchHandler(TASKS_TOPIC, options),
      };
    }

    it.skipIf(!opened)(
      "count a batch with duplicates once per event, and a redelivered batch changes nothing",
      async () => {
        await reset();
        const start = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE);
        const { orders, tasks } = workload({ orders: 40, tasks: 60 }, start);
        const h = handlers();
        // The relay published some events twice: both copies in one batch, and across batches.
        const orderBatch = [...orders, orders[0], orders[1], orders[0]].map((e) =>
          storedRecord(ORDERS_TOPIC, e as EventEnvelope),
        );
        const taskBatch = [...tasks, tasks[5]].map((e) =>
          storedRecord(TASKS_TOPIC, e as EventEnvelope),
        );
        await h.orders(orderBatch);
        await h.tasks(taskBatch.slice(0, 30));
        await h.tasks(taskBatch.slice(20));
        expect(h.stats).toMatchObject({ processed: 100, duplicates: 3 + 10 + 1, failed: 0 });
        const expected = expectedAggregates(orders, tasks);
        const once = await readAggregates(database().db);
        expect(once.orderMinutes).toEqual(expected.orderMinutes);
        expect(once.products).toEqual(expected.products);
        expect(once.taskMinutes).toEqual(expected.taskMinutes);

        // Its offsets were not committed (a crash): the whole stream comes again.
        await h.orders(orderBatch);
        await h.tasks(taskBatch);
        expect(h.stats.processed).toBe(100);
        expect(await readAggregates(database().db)).toEqual(once);
      },
    );

    it.skipIf(!opened)(
      "put each event in the minute of its own time, per currency and product, and keep the durations' histogram",
      async () => {
        await reset();
        const m0 = new Date(Date.UTC(2026, 10, 23, 15, 0));
        const m1 = new Date(m0.getTime() + MINUTE);
        const at = (minute: Date, seconds: number) => new Date(minute.getTime() + seconds * 1000);
        const h = handlers();
        await h.orders(
          [
            orderEvent({ createdAt: at(m0, 0), lines: [{ product: 0, quantity: 2 }] }),
            orderEvent({
              createdAt: at(m0, 59.999),
              lines: [
                { product: 0, quantity: 1 },
                { product: 1, quantity: 3 },
              ],
            }),
            orderEvent({
              createdAt: at(m1, 0),
              currency: "USD",
              lines: [{ product: 2, quantity: 1 }],
            }),
          ].map((e) => storedRecord(ORDERS_TOPIC, e as EventEnvelope)),
        );
        // m0: 1..100 ms and ten slow ones; m1: one failure only.
        const fast = Array.from({ length: 100 }, (_, i) => i + 1);
        const slow = Array.from({ length: 10 }, (_, i) => 60_000 + i * 12_345);
        await h.tasks(
          [
            ...[...fast, ...slow].map((ms, i) =>
              taskEvent({ status: "DONE", finishedAt: at(m0, (i % 60) + 0.5), durationMs: ms }),
            ),
            taskEvent({ status: "FAILED", finishedAt: at(m1, 1), durationMs: 5 }),
          ].map((e) => storedRecord(TASKS_TOPIC, e as EventEnvelope)),
        );
        const got = await readAggregates(database().db);
        expect(got.orderMinutes).toEqual({
          [`${m0.toISOString()} EUR`]: { orders: 2, revenue_cents: 3 * 7990 + 3 * 990 },
          [`${m1.toISOString()} USD`]: { orders: 1, revenue_cents: 2490 },
        });
        expect(got.products).toEqual({
          [`${m0.toISOString()} KB-101 EUR`]: { quantity: 3, revenue_cents: 3 * 7990 },
          [`${m0.toISOString()} CB-USB EUR`]: { quantity: 3, revenue_cents: 3 * 990 },
          [`${m1.toISOString()} MS-200 USD`]: { quantity: 1, revenue_cents: 2490 },
        });
        expect(got.taskMinutes).toEqual({
          [m0.toISOString()]: { completed: 110, failed: 0 },
          [m1.toISOString()]: { completed: 0, failed: 1 },
        });
        const histogram = got.histograms[m0.toISOString()] ?? [];
        expect(histogram.reduce((n, b) => n + b.count, 0)).toBe(110);
        expect(got.histograms[m1.toISOString()]).toBeUndefined();
        const all = [...fast, ...slow];
        for (const p of [0.5, 0.9, 0.95, 0.99]) {
          const exact = nearestRank(all, p);
          const read = histogramRank(histogram, p);
          expect(Math.abs(read - exact), `p${p * 100}`).toBeLessThanOrEqual(
            exact * DURATION_RELATIVE_ERROR,
          );
        }
        // Under 50 ms the histogram is exact to the millisecond.
        expect(Math.round(histogramRank(histogram, 0.25))).toBe(nearestRank(all, 0.25));
      },
    );

    it.skipIf(!opened)(
      "ignore events of other types, versions or shapes without failing the batch",
      async () => {
        await reset();
        const h = handlers();
        const good = orderEvent({ createdAt: new Date(), lines: [{ product: 0, quantity: 1 }] });
        const records = [
          storedRecord(ORDERS_TOPIC, good as EventEnvelope),
          storedRecord(ORDERS_TOPIC, { ...good, id: "v2", schema_version: 2 }),
          storedRecord(ORDERS_TOPIC, { ...good, id: "other", type: "order.cancelled" }),
          storedRecord(ORDERS_TOPIC, { ...good, id: "bad", data: { ...good.data, items: "x" } }),
          { ...storedRecord(ORDERS_TOPIC, good as EventEnvelope), id: "junk", value: "junk" },
        ];
        await h.orders(records);
        expect(h.stats).toMatchObject({ processed: 1, ignored: 4, duplicates: 0 });
      },
    );

    it.skipIf(!opened)(
      "count an event once when two transactions bring it at the same time",
      async () => {
        await reset();
        const start = new Date(Math.floor(Date.now() / MINUTE) * MINUTE);
        const { orders, tasks } = workload({ orders: 30, tasks: 30 }, start);
        const h = handlers();
        const batch = [...orders, ...tasks].map((e) =>
          storedRecord(ORDERS_TOPIC, e as EventEnvelope),
        );
        await Promise.all([h.orders(batch), h.orders([...batch].reverse()), h.orders(batch)]);
        expect(h.stats.processed).toBe(60);
        const expected = expectedAggregates(orders, tasks);
        const got = await readAggregates(database().db);
        expect(got.orderMinutes).toEqual(expected.orderMinutes);
        expect(got.taskMinutes).toEqual(expected.taskMinutes);
      },
    );
  });
}

import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import {
  createEmbeddedEventStream,
  type EventEnvelope,
  type EventStream,
} from "@taskflow/messaging";
import { createRedisEventStream } from "@taskflow/messaging/redis";
import { createLogger } from "@taskflow/observability";
import type { OrderCreated } from "@taskflow/orders";
import type { TaskFinished } from "@taskflow/tasks";
import {
  createTestDatabase,
  engineAvailable,
  testEngines,
  uniqueName,
  waitFor,
} from "@taskflow/testing";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import {
  AnalyticsBusyError,
  type AnalyticsConsumer,
  type AnalyticsTopics,
  createAnalyticsConsumer,
  rebuildAnalytics,
} from "../src/index.ts";
import {
  expectedAggregates,
  MINUTE,
  readAggregates,
  streamRecord,
  workload,
} from "./analytics-fixtures.ts";

const silent = createLogger({ level: "silent", service: "analytics-test" });
const redisPrefix = uniqueName("taskflow-test-analytics");

interface Engine {
  database: DatabaseHandle;
  /** A new client of the stream (as another process would have). */
  stream(): EventStream;
  cleanup(): Promise<void>;
}

async function postgres() {
  const testDb = await createTestDatabase("taskflow_analytics");
  const database = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 8 });
  await migrateUp(database.db);
  return { testDb, database };
}

const engines: Record<string, () => Promise<Engine | undefined>> = {
  "the embedded stream (PostgreSQL)": async () => {
    if (!(await engineAvailable("postgres"))) return undefined;
    const { testDb, database } = await postgres();
    const streams: EventStream[] = [];
    return {
      database,
      stream: () => {
        const stream = createEmbeddedEventStream({ database, pollMs: 100 });
        streams.push(stream);
        return stream;
      },
      cleanup: async () => {
        for (const s of streams) await s.close();
        await database.close();
        await testDb.drop();
      },
    };
  },
  "Redis Streams": async () => {
    if (!(await engineAvailable("postgres")) || !(await engineAvailable("redis"))) return undefined;
    const { testDb, database } = await postgres();
    const streams: EventStream[] = [];
    return {
      database,
      stream: () => {
        const stream = createRedisEventStream({
          url: testEngines.redisUrl,
          prefix: redisPrefix,
          leaseMs: 1_500,
          pollMs: 200,
        });
        streams.push(stream);
        return stream;
      },
      cleanup: async () => {
        for (const s of streams) await s.close();
        await database.close();
        await testDb.drop();
        await deleteRedisKeys(`${redisPrefix}:*`);
      },
    };
  },
};

async function deleteRedisKeys(pattern: string) {
  const redis = new Redis(testEngines.redisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

for (const [name, open] of Object.entries(engines)) {
  describe(`the analytics consumer on ${name}`, async () => {
    const engine = await open();
    const running: AnalyticsConsumer[] = [];
    afterAll(async () => {
      for (const c of running) await c.stop().catch(() => {});
      await engine?.cleanup();
    });

    it.skipIf(!engine)(
      "counts every event exactly once, hands over to a standby, and a rebuild arrives at the same figures",
      async () => {
        if (!engine) return;
        const { database } = engine;
        const topics: AnalyticsTopics = {
          orders: uniqueName("orders"),
          tasks: uniqueName("tasks"),
        };
        const producer = engine.stream();
        for (const topic of [topics.orders, topics.tasks])
          await producer.ensureTopic(topic, { partitions: 3 });
        const start = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE);
        const all = {
          orders: [] as EventEnvelope<OrderCreated>[],
          tasks: [] as EventEnvelope<TaskFinished>[],
        };
        const append = async (n: number, duplicates: number) => {
          const { orders, tasks } = workload({ orders: n, tasks: n }, start);
          all.orders.push(...orders);
          all.tasks.push(...tasks);
          // At least once: the relay published some of them twice.
          const again = (events: EventEnvelope[]) => events.slice(0, duplicates);
          await producer.append(topics.orders, [...orders, ...again(orders)].map(streamRecord));
          await producer.append(topics.tasks, [...tasks, ...again(tasks)].map(streamRecord));
        };
        const consumer = (group = "analytics") => {
          const c = createAnalyticsConsumer({
            stream: engine.stream(),
            database,
            logger: silent,
            topics,
            group,
            maxBatch: 50,
            retryDelayMs: 100,
            lockPollMs: 200,
          });
          running.push(c);
          return c;
        };
        const expectExact = async () => {
          const expected = expectedAggregates(all.orders, all.tasks);
          const got = await readAggregates(database.db);
          expect(got.orderMinutes).toEqual(expected.orderMinutes);
          expect(got.products).toEqual(expected.products);
          expect(got.taskMinutes).toEqual(expected.taskMinutes);
          for (const [minute, durations] of Object.entries(expected.durations)) {
            const counted = (got.histograms[minute] ?? []).reduce((n, b) => n + b.count, 0);
            expect(counted).toBe(durations.length);
          }
          return got;
        };

        await append(300, 30);
        const first = consumer();
        await first.start();
        expect(first.active).toBe(true);
        await waitFor(() => first.stats.processed === 600 && first.stats.duplicates === 60, {
          what: "600 events counted, 60 duplicates skipped",
          timeoutMs: 30_000,
        });
        await expectExact();

        // A second consumer of the group stands by while the first holds the group…
        const second = consumer();
        await second.start();
        expect(second.active).toBe(false);
        // …and counts on where the first stopped.
        await first.stop();
        await waitFor(() => second.active, { what: "the standby taking over" });
        await append(50, 5);
        await waitFor(() => second.stats.processed === 100, {
          what: "the new events counted by the standby",
          timeoutMs: 30_000,
        });
        const live = await expectExact();

        // A rebuild is refused while a consumer of the group runs.
        await expect(
          rebuildAnalytics({ stream: engine.stream(), database, logger: silent, topics }),
        ).rejects.toBeInstanceOf(AnalyticsBusyError);
        await second.stop();

        const summary = await rebuildAnalytics({
          stream: engine.stream(),
          database,
          logger: silent,
          topics,
          maxBatch: 100,
          quietMs: 1_000,
        });
        expect(summary).toMatchObject({
          records: 700 + 70,
          counted: 700,
          duplicates: 70,
          ignored: 0,
          totals: {
            processedEvents: 700,
            orders: 350,
            tasksCompleted: all.tasks.filter((t) => t.data.status === "DONE").length,
          },
        });
        expect(await readAggregates(database.db)).toEqual(live);

        // The rebuild committed its offsets: the role goes on from there, nothing counted twice.
        const after = consumer();
        await after.start();
        await append(10, 0);
        await waitFor(() => after.stats.processed === 20, { what: "only the new events" });
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(after.stats).toMatchObject({ processed: 20, duplicates: 0 });
        await expectExact();
        await after.stop();
      },
    );

    it.skipIf(!engine)(
      "forgets processed ids past the retention, and only once a batch of each topic was counted since it took over",
      async () => {
        if (!engine) return;
        const { database } = engine;
        const topics: AnalyticsTopics = {
          orders: uniqueName("orders"),
          tasks: uniqueName("tasks"),
        };
        const group = uniqueName("forget");
        const producer = engine.stream();
        for (const topic of [topics.orders, topics.tasks]) await producer.ensureTopic(topic);
        const start = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 5 * MINUTE);
        const append = async (n: number) => {
          const { orders, tasks } = workload({ orders: n, tasks: n }, start);
          await producer.append(topics.orders, orders.map(streamRecord));
          await producer.append(topics.tasks, tasks.map(streamRecord));
        };
        const consumer = () => {
          const c = createAnalyticsConsumer({
            stream: engine.stream(),
            database,
            logger: silent,
            topics,
            group,
            retryDelayMs: 100,
            lockPollMs: 200,
            keepProcessedIdsMs: 60_000,
          });
          running.push(c);
          return c;
        };
        const ids = async () =>
          (
            await database.db
              .selectFrom("analytics_processed_events")
              .select("event_id")
              .where("consumer", "=", group)
              .orderBy("event_id")
              .execute()
          ).map((r) => r.event_id);
        const age = (eventIds: string[]) =>
          database.db
            .updateTable("analytics_processed_events")
            .set({ processed_at: new Date(Date.now() - 60 * MINUTE) })
            .where("consumer", "=", group)
            .where("event_id", "in", eventIds)
            .execute();

        await append(5);
        const first = consumer();
        await first.start();
        await waitFor(() => first.stats.processed === 10, { what: "10 events counted" });
        const counted = await ids();
        await age(counted.slice(0, 4));
        expect(await first.forgetOldIds()).toBe(4);
        expect(await ids()).toEqual(counted.slice(4));
        await first.stop();

        // A consumer that took over and has not counted a batch of each topic yet may still
        // get what its predecessor left uncommitted: it forgets nothing.
        const next = consumer();
        await next.start();
        await age(counted.slice(4));
        expect(await next.forgetOldIds()).toBe(0);
        await append(1);
        await waitFor(() => next.stats.processed === 2, { what: "a batch of each topic" });
        expect(await next.forgetOldIds()).toBe(6);
        expect(await ids()).toHaveLength(2);
        await next.stop();
      },
    );
  });
}

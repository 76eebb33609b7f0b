import { randomBytes } from "node:crypto";
import { createDatabase, type DatabaseHandle } from "@taskflow/db";
import {
  createEmbeddedEventStream,
  type EventEnvelope,
  type EventStream,
} from "@taskflow/messaging";
import { ORDERS_TOPIC, type OrderCreated } from "@taskflow/orders";
import { TASKS_TOPIC, type TaskFinished } from "@taskflow/tasks";
import {
  type ChildEnv,
  createTestDatabase,
  engineAvailable,
  killAllRoles,
  type RoleProcess,
  runMigrations,
  runTaskflow,
  startRole,
  type TestDatabase,
  waitFor,
} from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectedAggregates,
  MINUTE,
  readAggregates,
  streamRecord,
  workload,
} from "./analytics-fixtures.ts";

/**
 * `taskflow analytics` as operators run it: a process on a PostgreSQL database of this run's
 * own, reading the embedded stream the test appends to (as the relay would). Killed without
 * warning and started again, it must still count every event exactly once; `taskflow
 * analytics rebuild` must arrive at the same figures.
 */
const available = await engineAvailable("postgres");

describe.skipIf(!available)("the analytics process", () => {
  let testDb: TestDatabase;
  let database: DatabaseHandle;
  let stream: EventStream;
  let env: ChildEnv;

  beforeAll(async () => {
    testDb = await createTestDatabase("taskflow_analytics_e2e");
    env = {
      TASKFLOW_DATABASE_URL: testDb.url,
      TASKFLOW_JWT_SECRET: randomBytes(32).toString("base64url"),
      TASKFLOW_LOG_LEVEL: "warn",
      TASKFLOW_SHUTDOWN_TIMEOUT_MS: "10000",
    };
    await runMigrations(env);
    database = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 4 });
    stream = createEmbeddedEventStream({ database });
    for (const topic of [ORDERS_TOPIC, TASKS_TOPIC])
      await stream.ensureTopic(topic, { partitions: 3 });
  }, 60_000);

  afterAll(async () => {
    await killAllRoles();
    await stream?.close();
    await database?.close();
    await testDb?.drop();
  }, 30_000);

  const counted = async () =>
    Number(
      (
        await database.db
          .selectFrom("analytics_processed_events")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it("when SIGKILLed mid-stream and started again, counts every event exactly once; a rebuild arrives at the same figures", async () => {
    const all = {
      orders: [] as EventEnvelope<OrderCreated>[],
      tasks: [] as EventEnvelope<TaskFinished>[],
    };
    const start = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - 20 * MINUTE);
    const CHUNKS = 30;
    const PER_CHUNK = 100;
    let appended = 0;
    let analytics: RoleProcess = await startRole("analytics", env);
    // The relay's side: chunks of orders and tasks, some published twice, while the
    // analytics process counts, dies and comes back.
    const feeding = (async () => {
      for (let i = 0; i < CHUNKS; i++) {
        const { orders, tasks } = workload({ orders: PER_CHUNK, tasks: PER_CHUNK }, start);
        all.orders.push(...orders);
        all.tasks.push(...tasks);
        await stream.append(ORDERS_TOPIC, [...orders, ...orders.slice(0, 10)].map(streamRecord));
        await stream.append(TASKS_TOPIC, [...tasks, ...tasks.slice(0, 10)].map(streamRecord));
        appended = i + 1;
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    })();

    await waitFor(async () => (await counted()) >= 600, {
      what: "the first events counted",
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    const killed = await analytics.kill();
    expect(killed.signal).toBe("SIGKILL");
    // Mid-stream: events were still coming.
    expect(appended).toBeLessThan(CHUNKS);

    analytics = await startRole("analytics", env);
    await feeding;
    expect(appended).toBe(CHUNKS);
    const unique = CHUNKS * PER_CHUNK * 2;
    await waitFor(async () => (await counted()) === unique, {
      what: `all ${unique} events counted`,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const expected = expectedAggregates(all.orders, all.tasks);
    const live = await readAggregates(database.db);
    expect(live.orderMinutes).toEqual(expected.orderMinutes);
    expect(live.products).toEqual(expected.products);
    expect(live.taskMinutes).toEqual(expected.taskMinutes);
    for (const [minute, durations] of Object.entries(expected.durations)) {
      const n = (live.histograms[minute] ?? []).reduce((sum, b) => sum + b.count, 0);
      expect(n).toBe(durations.length);
    }

    // A rebuild is refused while the role runs…
    const refused = await runTaskflow(["analytics", "rebuild"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/analytics consumer of group "analytics" is running/);

    // …the role stops cleanly (its batch in hand committed)…
    const stopped = await analytics.stop();
    expect(stopped.code).toBe(0);
    const beat = await database.db
      .selectFrom("process_heartbeats")
      .select(["role", "stopped_at"])
      .where("role", "=", "analytics")
      .where("pid", "=", analytics.pid)
      .executeTakeFirst();
    expect(beat?.stopped_at).toBeInstanceOf(Date);

    // …and the rebuild recounts the whole stream to the same figures.
    const rebuilt = await runTaskflow(["analytics", "rebuild"], env);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const line = rebuilt.stdout.split("\n").find((l) => l.startsWith("analytics rebuilt"));
    const records = CHUNKS * (PER_CHUNK + 10) * 2;
    expect(line).toMatch(
      new RegExp(
        `${records} records read, ${unique} events counted, ${CHUNKS * 20} duplicates, 0 ignored`,
      ),
    );
    expect(line).toMatch(
      new RegExp(`orders ${CHUNKS * PER_CHUNK} \\(revenue_cents EUR \\d+, USD \\d+\\)`),
    );
    expect(await counted()).toBe(unique);
    expect(await readAggregates(database.db)).toEqual(live);
  }, 180_000);
});

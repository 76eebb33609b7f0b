import { randomBytes } from "node:crypto";
import {
  type ChildEnv,
  createTestDatabase,
  engineAvailable,
  runMigrations,
  type TestDatabase,
  testEngines,
  testPool,
  uniqueName,
} from "@taskflow/testing";
import amqplib from "amqplib";
import type pg from "pg";

/** Whether PostgreSQL and RabbitMQ answer (skip without them; fail if TASKFLOW_REQUIRE_SERVICES=1). */
export async function realEnginesAvailable(): Promise<boolean> {
  const [postgres, rabbitmq] = await Promise.all([
    engineAvailable("postgres"),
    engineAvailable("rabbitmq"),
  ]);
  return postgres && rabbitmq;
}

export interface RealEngines {
  /** The environment every role of this run gets (its own database and queue). */
  env: ChildEnv;
  database: TestDatabase;
  /** The work queue; dead letters go to `${queue}.dead`. */
  queue: string;
  /** Straight SQL on this run's database, to check what the API reports. */
  sql: pg.Pool;
  /** Ready (undelivered) messages in a queue, as RabbitMQ counts them. */
  messageCount(queue: string): Promise<number>;
  cleanup(): Promise<void>;
}

/**
 * A migrated database and a queue name of this run's own, on the real engines, and the
 * environment that points TaskFlow's roles at them. `cleanup` drops the database and
 * deletes the queue, its dead-letter queue and its dead-letter exchange.
 */
export async function openRealEngines(prefix: string): Promise<RealEngines> {
  const database = await createTestDatabase(`taskflow_${prefix}`);
  const queue = uniqueName(`e2e.${prefix}`);
  const env: ChildEnv = {
    TASKFLOW_DATABASE_URL: database.url,
    TASKFLOW_AMQP_URL: testEngines.amqpUrl,
    TASKFLOW_TASK_QUEUE: queue,
    TASKFLOW_JWT_SECRET: randomBytes(32).toString("base64url"),
    TASKFLOW_LOG_LEVEL: "warn",
    TASKFLOW_LOGIN_RATE_LIMIT: "1000",
  };
  const sql = testPool(database.url, 2);
  const amqp = await amqplib.connect(testEngines.amqpUrl);
  amqp.on("error", () => {});
  try {
    await runMigrations(env);
  } catch (error) {
    await Promise.allSettled([sql.end(), amqp.close(), database.drop()]);
    throw error;
  }
  return {
    env,
    database,
    queue,
    sql,
    async messageCount(name) {
      // A channel per look: checking a queue that does not exist closes the channel.
      const channel = await amqp.createChannel();
      channel.on("error", () => {});
      try {
        return (await channel.checkQueue(name)).messageCount;
      } finally {
        await channel.close().catch(() => {});
      }
    },
    async cleanup() {
      const channel = await amqp.createChannel();
      channel.on("error", () => {});
      await channel.deleteQueue(queue).catch(() => {});
      await channel.deleteQueue(`${queue}.dead`).catch(() => {});
      await channel.deleteExchange(`${queue}.dlx`).catch(() => {});
      await channel.close().catch(() => {});
      await amqp.close().catch(() => {});
      await sql.end();
      await database.drop();
    },
  };
}

/** Task counts by status for one owner, straight from the tasks table. */
export async function sqlCountsByStatus(
  sql: pg.Pool,
  ownerId: string,
): Promise<Record<string, number>> {
  const { rows } = await sql.query<{ status: string; n: number }>(
    "SELECT status, count(*)::int AS n FROM tasks WHERE owner_id = $1 GROUP BY status",
    [ownerId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** The counters the API reads (task_counts), without the zero rows. */
export async function counterRows(sql: pg.Pool, ownerId: string): Promise<Record<string, number>> {
  const { rows } = await sql.query<{ status: string; n: number }>(
    "SELECT status, count::int AS n FROM task_counts WHERE owner_id = $1 AND count <> 0",
    [ownerId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

export const ALL_ZERO = {
  PENDING: 0,
  PROCESSING: 0,
  RETRYING: 0,
  DONE: 0,
  FAILED: 0,
  CANCELLED: 0,
} as const;

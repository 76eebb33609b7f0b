import { randomBytes } from "node:crypto";
import net from "node:net";
import pg from "pg";

/**
 * Test infrastructure: "we don't mock, we boot". Integration tests talk to the real engines
 * on this machine; every run gets its own database and queue names so runs never collide.
 * With TASKFLOW_REQUIRE_SERVICES=1 (CI) a missing engine fails the test instead of skipping it.
 */

export const requireServices = process.env.TASKFLOW_REQUIRE_SERVICES === "1";

export const testEngines = {
  /** A database on the server where per-run databases are created. */
  postgresAdminUrl:
    process.env.TASKFLOW_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
  amqpUrl: process.env.TASKFLOW_TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672",
  redisUrl: process.env.TASKFLOW_TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
  natsUrl: process.env.TASKFLOW_TEST_NATS_URL ?? "nats://127.0.0.1:4222",
  /** Kafka bootstrap brokers, `host:port[,host:port]` (as `npm run kafka:start` prints). */
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
};

const engineEndpoints = {
  postgres: { url: testEngines.postgresAdminUrl, defaultPort: 5432 },
  rabbitmq: { url: testEngines.amqpUrl, defaultPort: 5672 },
  redis: { url: testEngines.redisUrl, defaultPort: 6379 },
  nats: { url: testEngines.natsUrl, defaultPort: 4222 },
  kafka: { url: `kafka://${testEngines.kafkaBrokers[0]}`, defaultPort: 9092 },
};

/** A name no other run uses: prefix, pid and random suffix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({
      host: hostname || "127.0.0.1",
      port: Number(port) || defaultPort,
    });
    socket.setTimeout(1_000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Whether tests of an engine should run: true if it answers; false (skip) if it does not and
 * services are optional; throws if it does not and services are required.
 */
export async function engineAvailable(engine: keyof typeof engineEndpoints): Promise<boolean> {
  const { url, defaultPort } = engineEndpoints[engine];
  const ok = await reachable(url, defaultPort);
  if (!ok && requireServices) {
    throw new Error(
      `${engine} is required (TASKFLOW_REQUIRE_SERVICES=1) but ${url} does not answer`,
    );
  }
  return ok;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates an empty PostgreSQL database for this run; `drop()` removes it. */
export async function createTestDatabase(prefix = "taskflow_test"): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  const admin = new pg.Client({ connectionString: testEngines.postgresAdminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(testEngines.postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: testEngines.postgresAdminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * A pool on a test database, for a test to read and write the engine directly. It listens for
 * errors of idle clients: `pool.end()` resolves once its clients are told to end, and a
 * `drop()` WITH (FORCE) right after may reach a backend still closing, whose 57P01 the pool
 * would otherwise throw as an uncaught exception. A query on a broken client still rejects.
 */
export function testPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on("error", () => {});
  return pool;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 25, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
export * from "./api-client.ts";
export * from "./bundle.ts";
export * from "./kafka.ts";
export * from "./processes.ts";
export * from "./rabbitmq.ts";
export * from "./smtp.ts";

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import amqp from "amqplib";
import { Redis } from "ioredis";
import pg from "pg";
import { errorMessage, withTimeout } from "./util.ts";

/** Runs one statement on the admin database (CREATE / DROP DATABASE). */
export async function adminQuery(adminUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The URL of database `name` on the server of `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  return databaseUrl(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** Runs statements on a database with a short-lived client. */
export async function withDatabase<T>(
  url: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Fails with a readable message when PostgreSQL does not answer. */
export async function checkPostgres(adminUrl: string): Promise<string> {
  try {
    return await withTimeout(
      withDatabase(adminUrl, async (c) => {
        const { rows } = await c.query<{ v: string; sc: string; fs: string }>(
          "SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fs",
        );
        const r = rows[0];
        return `PostgreSQL ${r?.v} (fsync ${r?.fs}, synchronous_commit ${r?.sc})`;
      }),
      8_000,
      "PostgreSQL check",
    );
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${redact(adminUrl)}: ${errorMessage(error)}\n` +
        "Start it (or pass --pg-url), or run only --mode embedded --skip-raw.",
    );
  }
}

/** Fails with a readable message when RabbitMQ does not answer. */
export async function checkRabbitMq(url: string): Promise<string> {
  try {
    const connection = await withTimeout(amqp.connect(url), 8_000, "RabbitMQ connect");
    connection.on("error", () => {});
    const version = String(
      (connection.connection as unknown as { serverProperties?: { version?: string } })
        .serverProperties?.version ?? "?",
    );
    await connection.close();
    return `RabbitMQ ${version}`;
  } catch (error) {
    throw new Error(
      `RabbitMQ is not reachable at ${redact(url)}: ${errorMessage(error)}\n` +
        "Start it (or pass --amqp-url), or run only --mode embedded --skip-raw.",
    );
  }
}

/** Deletes the queues and exchange TaskFlow declared for `queue` (and its dead letters). */
export async function deleteTaskQueues(url: string, queue: string): Promise<void> {
  const connection = await withTimeout(amqp.connect(url), 8_000, "RabbitMQ connect");
  connection.on("error", () => {});
  try {
    const steps: [string, (ch: amqp.Channel) => Promise<unknown>][] = [
      [queue, (ch) => ch.deleteQueue(queue)],
      [`${queue}.dead`, (ch) => ch.deleteQueue(`${queue}.dead`)],
      [`${queue}.dlx`, (ch) => ch.deleteExchange(`${queue}.dlx`)],
    ];
    for (const [, step] of steps) {
      // A failed operation closes its channel: one channel per step.
      const ch = await connection.createChannel();
      ch.on("error", () => {});
      await step(ch).catch(() => {});
      await ch.close().catch(() => {});
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ virtual hosts: a run of its own, names included (exchanges and queues the roles name
// themselves, like `taskflow.events` and `notifier`). Made with rabbitmqctl on this machine.

const run = promisify(execFile);

/** Creates vhost `name` and gives `user` every permission on it (rabbitmqctl). */
export async function createVhost(name: string, user: string): Promise<void> {
  await run("rabbitmqctl", ["-q", "add_vhost", name], { timeout: 60_000 });
  await run("rabbitmqctl", ["-q", "set_permissions", "-p", name, user, ".*", ".*", ".*"], {
    timeout: 60_000,
  });
}

/** Deletes vhost `name` and everything in it. */
export async function deleteVhost(name: string): Promise<void> {
  await run("rabbitmqctl", ["-q", "delete_vhost", name], { timeout: 60_000 });
}

/** `amqpUrl` pointing at vhost `name`. */
export function vhostUrl(amqpUrl: string, name: string): string {
  const url = new URL(amqpUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

// ---------------------------------------------------------------------------------------------
// Redis

/** Runs `fn` with a short-lived ioredis client. */
export async function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on("error", () => {});
  try {
    await withTimeout(redis.connect(), 5_000, "Redis connect");
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** "Redis 7.0.15", or throws a readable error when it does not answer. */
export async function checkRedis(url: string): Promise<string> {
  try {
    return await withRedis(url, async (redis) => {
      const info = await redis.info("server");
      return `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? "?"}`;
    });
  } catch (error) {
    throw new Error(`Redis is not reachable at ${redact(url)}: ${errorMessage(error)}`);
  }
}

/** Deletes every key matching `pattern` (SCAN, then DEL in batches); answers how many. */
export async function deleteRedisKeys(url: string, pattern: string): Promise<number> {
  return withRedis(url, async (redis) => {
    let deleted = 0;
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== "0");
    return deleted;
  });
}

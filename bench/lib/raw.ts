import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import path from "node:path";
import amqp from "amqplib";
import pg from "pg";
import { type Child, runToEnd, spawnChild, stopChild, waitReady } from "./children.ts";
import { createDatabase, dropDatabase, withDatabase } from "./engines.ts";
import { type ClientKind, createPoster, drive } from "./http-client.ts";
import { readProc } from "./procstat.ts";
import { freePort, randomHex, sleep, summarize, withTimeout } from "./util.ts";

/** Raw RabbitMQ: publish (confirms in flight per window) and consume (manual acks) at once. */
export interface AmqpRate {
  queueType: "classic" | "quorum";
  /** Messages consumed and acked per second: the figure called R_amqp. */
  consumedPerSecond: number;
  /** Messages published and confirmed per second over the same window. */
  confirmedPerSecond: number;
  seconds: number;
}

export async function measureAmqp(options: {
  url: string;
  queueType: "classic" | "quorum";
  seconds: number;
  confirmWindow?: number;
  prefetch?: number;
}): Promise<AmqpRate> {
  const window = options.confirmWindow ?? 500;
  const queue = `bench.raw.${process.pid}.${randomHex(4)}.${options.queueType}`;
  const pubConn = await withTimeout(amqp.connect(options.url), 5_000, "RabbitMQ connect");
  const subConn = await withTimeout(amqp.connect(options.url), 5_000, "RabbitMQ connect");
  pubConn.on("error", () => {});
  subConn.on("error", () => {});
  try {
    const pub = await pubConn.createConfirmChannel();
    await pub.assertQueue(queue, {
      durable: true,
      arguments: { "x-queue-type": options.queueType },
    });
    const sub = await subConn.createChannel();
    await sub.prefetch(options.prefetch ?? 200);
    let consumed = 0;
    const { consumerTag } = await sub.consume(
      queue,
      (message) => {
        if (!message) return;
        sub.ack(message);
        consumed++;
      },
      { noAck: false },
    );
    // The shape of a TaskFlow task message.
    const body = Buffer.from(JSON.stringify({ task_id: randomUUID(), type: "sleep" }));
    const warmupMs = 500;
    const started = performance.now();
    const measureFrom = started + warmupMs;
    const measureTo = measureFrom + options.seconds * 1000;
    let confirmed = 0;
    let atStart: { consumed: number; confirmed: number } | undefined;
    let atEnd: { consumed: number; confirmed: number } | undefined;
    const startTimer = setTimeout(() => {
      atStart = { consumed, confirmed };
    }, warmupMs);
    const endTimer = setTimeout(
      () => {
        atEnd = { consumed, confirmed };
      },
      warmupMs + options.seconds * 1000,
    );
    let seq = 0;
    while (performance.now() < measureTo) {
      for (let i = 0; i < window; i++) {
        const room = pub.sendToQueue(queue, body, {
          persistent: true,
          contentType: "application/json",
          messageId: String(seq++),
        });
        if (!room) await once(pub, "drain");
      }
      await withTimeout(pub.waitForConfirms(), 30_000, "RabbitMQ confirms");
      confirmed += window;
    }
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    atEnd ??= { consumed, confirmed };
    atStart ??= { consumed: 0, confirmed: 0 };
    const seconds = options.seconds;
    await sub.cancel(consumerTag).catch(() => {});
    await pub.deleteQueue(queue).catch(() => {});
    return {
      queueType: options.queueType,
      consumedPerSecond: (atEnd.consumed - atStart.consumed) / seconds,
      confirmedPerSecond: (atEnd.confirmed - atStart.confirmed) / seconds,
      seconds,
    };
  } finally {
    // A queue left by a failure above is removed on a fresh channel.
    try {
      const ch = await pubConn.createChannel();
      await ch.deleteQueue(queue).catch(() => {});
    } catch {
      // connection gone
    }
    await pubConn.close().catch(() => {});
    await subConn.close().catch(() => {});
  }
}

export interface PgRate {
  name: string;
  tps: number;
  latencyMs: number;
  clients: number;
  tool: "pgbench" | "node-pg";
}

function pgbenchArgs(url: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  return {
    args: [
      "-h",
      u.hostname,
      "-p",
      u.port || "5432",
      "-U",
      decodeURIComponent(u.username || "postgres"),
    ],
    env,
  };
}

/** Runs a pgbench script for `seconds` with `clients` connections; parses tps and latency. */
export async function pgbench(options: {
  url: string;
  name: string;
  script: string;
  clients: number;
  seconds: number;
  workDir: string;
}): Promise<PgRate> {
  const file = path.join(options.workDir, `${options.name}.sql`);
  writeFileSync(file, options.script);
  const { args, env } = pgbenchArgs(options.url);
  const database = decodeURIComponent(new URL(options.url).pathname.slice(1));
  const output = await runToEnd(
    `pgbench ${options.name}`,
    "pgbench",
    [
      ...args,
      "-n",
      "-c",
      String(options.clients),
      "-j",
      "2",
      "-T",
      String(options.seconds),
      "-f",
      file,
      database,
    ],
    {
      env,
      cwd: options.workDir,
      logFile: path.join(options.workDir, `${options.name}.log`),
      timeoutMs: options.seconds * 1000 + 30_000,
    },
  );
  const tps = /tps = ([\d.]+)/.exec(output);
  const latency = /latency average = ([\d.]+) ms/.exec(output);
  if (!tps) throw new Error(`pgbench ${options.name}: no tps in its output:\n${output}`);
  return {
    name: options.name,
    tps: Number(tps[1]),
    latencyMs: latency ? Number(latency[1]) : Number.NaN,
    clients: options.clients,
    tool: "pgbench",
  };
}

/** R_pg1 without pgbench: `clients` node-pg connections, one autocommit INSERT each at a time. */
export async function nodeInsertRate(options: {
  url: string;
  clients: number;
  seconds: number;
}): Promise<PgRate> {
  const clients = await Promise.all(
    Array.from({ length: options.clients }, async () => {
      const c = new pg.Client({ connectionString: options.url });
      await c.connect();
      return c;
    }),
  );
  try {
    let count = 0;
    let latencySum = 0;
    const end = performance.now() + options.seconds * 1000;
    await Promise.all(
      clients.map(async (c) => {
        while (performance.now() < end) {
          const t = performance.now();
          await c.query("INSERT INTO raw_insert (payload) VALUES ($1)", ['{"ms":0}']);
          latencySum += performance.now() - t;
          count++;
        }
      }),
    );
    return {
      name: "R_pg1",
      tps: count / options.seconds,
      latencyMs: latencySum / count,
      clients: options.clients,
      tool: "node-pg",
    };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

export const RAW_TABLES_SQL = `
  CREATE TABLE raw_insert (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE raw_update (id integer PRIMARY KEY, n integer NOT NULL DEFAULT 0);
  INSERT INTO raw_update (id) SELECT generate_series(1, 100000);
  CREATE TABLE raw_life (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );
`;

export const PGBENCH_SCRIPTS = {
  R_pg1: `INSERT INTO raw_insert (payload) VALUES ('{"ms":0}');\n`,
  R_pgupd: "\\set id random(1, 100000)\nUPDATE raw_update SET n = n + 1 WHERE id = :id;\n",
  R_life: [
    `INSERT INTO raw_life (status, payload) VALUES ('PENDING', '{"ms":0}') RETURNING id \\gset`,
    "UPDATE raw_life SET status = 'PROCESSING', updated_at = now() WHERE id = :id;",
    "UPDATE raw_life SET status = 'DONE', updated_at = now() WHERE id = :id;",
    "",
  ].join("\n"),
} as const;

/** Raw HTTP: a bare node:http server in its own process, driven by the same load generator. */
export interface HttpRate {
  concurrency: number;
  client: ClientKind;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU per request, ms: the server process, and the load generator (this process). */
  serverCpuMsPerRequest: number;
  loadgenCpuMsPerRequest: number;
}

export async function measureHttp(options: {
  concurrency: number;
  client: ClientKind;
  seconds: number;
  root: string;
  logFile: string;
}): Promise<HttpRate> {
  const port = await freePort();
  let server: Child | undefined;
  try {
    server = spawnChild(
      "hello-server",
      process.execPath,
      [path.join(options.root, "bench/lib/hello-server.mjs"), String(port)],
      { env: process.env, cwd: options.root, logFile: options.logFile },
    );
    await waitReady(server, port, "/", 10_000);
    const body = Buffer.from(JSON.stringify({ type: "sleep", payload: { ms: 0 } }));
    const poster = createPoster(
      options.client,
      { port, path: "/api/tasks", headers: { authorization: "Bearer x" }, body },
      options.concurrency,
    );
    // Warm the connections and the JIT first.
    await drive({
      send: poster.send,
      concurrency: options.concurrency,
      durationMs: 500,
      expectStatus: 202,
      parseId: true,
    });
    const serverCpu0 = readProc(server.pid)?.cpuSeconds ?? 0;
    const self0 = process.cpuUsage();
    const result = await drive({
      send: poster.send,
      concurrency: options.concurrency,
      durationMs: options.seconds * 1000,
      expectStatus: 202,
      parseId: true,
    });
    const self = process.cpuUsage(self0);
    const serverCpu = (readProc(server.pid)?.cpuSeconds ?? 0) - serverCpu0;
    poster.close();
    const latency = summarize(result.okLatencies);
    const seconds = (result.ended - result.firstStart) / 1000;
    return {
      concurrency: options.concurrency,
      client: options.client,
      requestsPerSecond: result.ok / seconds,
      p50Ms: latency.p50,
      p99Ms: latency.p99,
      serverCpuMsPerRequest: (serverCpu * 1000) / result.ok,
      loadgenCpuMsPerRequest: (self.user + self.system) / 1000 / result.ok,
    };
  } finally {
    if (server) await stopChild(server, 3_000);
    await sleep(0);
  }
}

/**
 * R_pg1 on database `dbName` (created here with the raw tables, dropped at the end — the caller
 * registers the same drop for an interruption): pgbench when installed, else node-pg.
 */
export async function measurePg1(options: {
  adminUrl: string;
  dbName: string;
  clients: number;
  seconds: number;
  workDir: string;
}): Promise<PgRate> {
  const url = await createDatabase(options.adminUrl, options.dbName);
  try {
    await withDatabase(url, async (c) => {
      await c.query(RAW_TABLES_SQL);
      await c.query("VACUUM ANALYZE");
    });
    const havePgbench = await runToEnd("pgbench --version", "pgbench", ["--version"], {
      env: process.env,
      cwd: options.workDir,
      logFile: path.join(options.workDir, "pgbench-version.log"),
      timeoutMs: 5_000,
    }).then(
      () => true,
      () => false,
    );
    return havePgbench
      ? await pgbench({
          url,
          name: "R_pg1",
          script: PGBENCH_SCRIPTS.R_pg1,
          clients: options.clients,
          seconds: options.seconds,
          workDir: options.workDir,
        })
      : await nodeInsertRate({ url, clients: options.clients, seconds: options.seconds });
  } finally {
    await dropDatabase(options.adminUrl, options.dbName);
  }
}

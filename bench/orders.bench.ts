/**
 * `npm run bench:orders`: the orders pipeline end to end — api, relay, validator, notifier,
 * mailer and analytics as separate `taskflow` processes on PostgreSQL, RabbitMQ and an event
 * stream (Kafka, Redis, NATS or embedded) — then the validator alone over gRPC, and, measured in
 * the same run, the raw PostgreSQL, RabbitMQ and Kafka producer rates with the ratios. See
 * bench/README.md.
 */

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ANALYTICS_GROUP } from "@taskflow/analytics";
import { ORDERS_TOPIC } from "@taskflow/orders";
import { TASKS_TOPIC } from "@taskflow/tasks";
import { createValidatorClient } from "@taskflow/validator";
import { buildBundle } from "../packages/cli/scripts/build.ts";
import { NODE_FLAGS } from "../packages/cli/scripts/node-flags.ts";
import { type Child, runToEnd, spawnChild, stopAll, stopChild, waitReady } from "./lib/children.ts";
import { CleanupStack, onInterrupt } from "./lib/cleanup.ts";
import {
  checkPostgres,
  checkRabbitMq,
  checkRedis,
  createDatabase,
  createVhost,
  databaseUrl,
  deleteRedisKeys,
  deleteTaskQueues,
  deleteVhost,
  dropDatabase,
  vhostUrl,
  withDatabase,
} from "./lib/engines.ts";
import {
  createPoster,
  type DriveResult,
  drive,
  EventWatcher,
  jsonRequest,
} from "./lib/http-client.ts";
import {
  describeGroupOnTopic,
  EndOffsetSampler,
  endOffsetSum,
  type KafkaProducerRate,
  kafkaAdmin,
  measureKafkaProducer,
  type ProducerPerformanceRate,
  producerPerformance,
  sampleOrderRecord,
} from "./lib/kafka.ts";
import { fetchMetrics, groupCommitMeans, metricByLabel } from "./lib/metrics.ts";
import {
  ENGINE_GROUPS,
  type GroupFigures,
  type MachineFigures,
  type ProcessFigures,
  ProcSampler,
  readProc,
  STREAM_ENGINE_GROUPS,
} from "./lib/procstat.ts";
import { waitQuiet } from "./lib/quiet.ts";
import { type AmqpRate, measureAmqp, measurePg1, type PgRate } from "./lib/raw.ts";
import { childEnv, medianRange, positiveOption, printJson, processTable } from "./lib/report.ts";
import {
  checkStream,
  openStreamSite,
  STREAM_KINDS,
  type StreamKind,
  type StreamUrls,
  streamUrl,
} from "./lib/streams.ts";
import {
  assertLoopback,
  dec,
  errorMessage,
  freePorts,
  int,
  pad,
  padLeft,
  randomHex,
  randomSecret,
  type Summary,
  sleep,
  summarize,
} from "./lib/util.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// What production runs: the bundled program, rebuilt from the sources at the start.
let CLI = "";

/** Valid for the seeded catalog (validation never reserves stock, so any N stays valid). */
const ORDER = {
  items: [
    { sku: "KB-101", quantity: 1 },
    { sku: "CB-USB", quantity: 2 },
  ],
};
const STREAM_TOPICS = [ORDERS_TOPIC, TASKS_TOPIC];
/** The roles, in the order they start (the validator first: the API dials it). */
const ROLES = ["validator", "api", "relay", "notifier", "mailer", "analytics"] as const;
type Role = (typeof ROLES)[number];
/** The summary window, minutes: the same for the baseline and the final count. */
const SUMMARY_MINUTES = 60;
const CONFIRMATION_SUBJECT = "Your TaskFlow order is confirmed%";
/** The analytics count not moving this long (after the last POST): given up. */
const STALL_MS = 20_000;

type Jobs = "redis" | "embedded";

interface Options {
  n: number;
  concurrency: number;
  streams: StreamKind[] | undefined;
  repeat: number;
  skipRaw: boolean;
  keep: boolean;
  json: boolean;
  jobs: Jobs | "auto";
  grpcSeconds: number;
  rawSeconds: number;
  pgClients: number;
  kafkaInFlight: number;
  ppRecords: number;
  waitQuiet: number;
  pgUrl: string;
  amqpUrl: string;
  urls: StreamUrls;
}

const HELP = `Usage: npm run bench:orders -- [options]

  --n N                     orders per run (default 2000)
  --concurrency C           concurrent HTTP clients, and gRPC clients for the validator (default 32)
  --stream S[,S...]         event stream: embedded, redis, nats, kafka; a list runs each
                            (default kafka when the broker answers, else embedded)
  --repeat R                repeat everything R times; the summary gives median and range (default 1)
  --skip-raw                do not measure the raw rates (R_pg1, R_amqp, the Kafka producers)
  --keep                    keep each run's temporary folder (the roles' logs)
  --json                    also print every figure as one JSON block
  --jobs redis|embedded     the job queue of the confirmation emails (default redis when it
                            answers, else embedded: the database-backed queue)
  --grpc-seconds S          length of the validator's gRPC measurement (default 5)
  --raw-seconds S           length of each raw measurement (default 3)
  --pg-clients K            pgbench clients for R_pg1 (default 8)
  --kafka-in-flight K       raw Kafka client: sends awaited at once (default 32)
  --pp-records M            ProducerPerformance: records sent (default 100000)
  --wait-quiet S            before each measurement, wait up to S s for other processes to go
                            quiet (the machine is shared; default 60, 0 = do not wait)
  --pg-url URL              PostgreSQL admin URL (default postgres://postgres@127.0.0.1:5432/postgres)
  --amqp-url URL            RabbitMQ URL (default amqp://guest:guest@127.0.0.1:5672)
  --kafka HOST:PORT         Kafka bootstrap broker (default 127.0.0.1:9092; npm run kafka:start)
  --redis-url URL           Redis (default redis://127.0.0.1:6379)
  --nats-url URL            NATS with JetStream (default nats://127.0.0.1:4222)
`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      n: { type: "string", default: "2000" },
      concurrency: { type: "string", default: "32" },
      stream: { type: "string" },
      repeat: { type: "string", default: "1" },
      "skip-raw": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      jobs: { type: "string", default: "auto" },
      "grpc-seconds": { type: "string", default: "5" },
      "raw-seconds": { type: "string", default: "3" },
      "pg-clients": { type: "string", default: "8" },
      "kafka-in-flight": { type: "string", default: "32" },
      "pp-records": { type: "string", default: "100000" },
      "wait-quiet": { type: "string", default: "60" },
      "pg-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
      "amqp-url": { type: "string", default: "amqp://guest:guest@127.0.0.1:5672" },
      kafka: { type: "string", default: "127.0.0.1:9092" },
      "redis-url": { type: "string", default: "redis://127.0.0.1:6379" },
      "nats-url": { type: "string", default: "nats://127.0.0.1:4222" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const positive = positiveOption;
  let streams: StreamKind[] | undefined;
  if (values.stream !== undefined) {
    streams = values.stream.split(",").map((s) => {
      const kind = s.trim() as StreamKind;
      if (!STREAM_KINDS.includes(kind))
        throw new Error(`--stream takes ${STREAM_KINDS.join(", ")} (got "${s}")`);
      return kind;
    });
  }
  if (!["auto", "redis", "embedded"].includes(values.jobs))
    throw new Error("--jobs must be redis or embedded");
  assertLoopback(values["pg-url"], "--pg-url");
  assertLoopback(values["amqp-url"], "--amqp-url");
  assertLoopback(`kafka://${values.kafka}`, "--kafka");
  assertLoopback(values["redis-url"], "--redis-url");
  for (const url of values["nats-url"].split(",")) assertLoopback(url, "--nats-url");
  return {
    n: positive("n", values.n),
    concurrency: positive("concurrency", values.concurrency),
    streams,
    repeat: positive("repeat", values.repeat),
    skipRaw: values["skip-raw"],
    keep: values.keep,
    json: values.json,
    jobs: values.jobs as Jobs | "auto",
    grpcSeconds: positive("grpc-seconds", values["grpc-seconds"]),
    rawSeconds: positive("raw-seconds", values["raw-seconds"]),
    pgClients: positive("pg-clients", values["pg-clients"]),
    kafkaInFlight: positive("kafka-in-flight", values["kafka-in-flight"]),
    ppRecords: positive("pp-records", values["pp-records"]),
    waitQuiet: Number(values["wait-quiet"]) || 0,
    pgUrl: values["pg-url"],
    amqpUrl: values["amqp-url"],
    urls: { kafka: values.kafka, redis: values["redis-url"], nats: values["nats-url"] },
  };
}

const cleanups = new CleanupStack();
const interrupted = onInterrupt(
  cleanups,
  "the bench's databases, RabbitMQ vhosts, job queues and stream topics",
);

// ---------------------------------------------------------------------------------------------
// Raw rates

interface RawFigures {
  repetition: number;
  /** R_amqp on a classic queue (the notifier's queue type). */
  amqp: AmqpRate | undefined;
  pg1: PgRate | undefined;
  kafkaClient: KafkaProducerRate | undefined;
  producerPerformance: ProducerPerformanceRate | undefined;
  errors: string[];
  seconds: number;
}

async function measureRaw(
  options: Options,
  repetition: number,
  withKafka: boolean,
): Promise<RawFigures> {
  const started = performance.now();
  const raw: RawFigures = {
    repetition,
    amqp: undefined,
    pg1: undefined,
    kafkaClient: undefined,
    producerPerformance: undefined,
    errors: [],
    seconds: 0,
  };
  const note = (what: string, error: unknown) => raw.errors.push(`${what}: ${errorMessage(error)}`);
  const work = mkdtempSync(path.join(os.tmpdir(), "taskflow-bench-orders-raw-"));
  console.log(
    `raw rates (repetition ${repetition}, ${options.rawSeconds} s each, before the pipeline runs)…`,
  );
  try {
    try {
      raw.amqp = await measureAmqp({
        url: options.amqpUrl,
        queueType: "classic",
        seconds: options.rawSeconds,
      });
    } catch (error) {
      note("R_amqp(classic)", error);
    }
    const dbName = `bench_raw_${process.pid}_${randomHex(4)}`;
    cleanups.add(`drop database ${dbName}`, () => dropDatabase(options.pgUrl, dbName));
    try {
      raw.pg1 = await measurePg1({
        adminUrl: options.pgUrl,
        dbName,
        clients: options.pgClients,
        seconds: options.rawSeconds,
        workDir: work,
      });
    } catch (error) {
      note("R_pg1", error);
    } finally {
      await cleanups.undoLast(`drop database ${dbName}`);
    }
    if (withKafka && !interrupted()) {
      const topic = `bench.raw.${process.pid}.${randomHex(4)}`;
      const admin = kafkaAdmin(options.urls.kafka);
      try {
        await admin.createTopics({ topics: [topic], partitions: 3 });
        cleanups.add(`delete Kafka topic ${topic}`, async () => {
          const a = kafkaAdmin(options.urls.kafka);
          await a.deleteTopics({ topics: [topic] }).finally(() => a.close().catch(() => {}));
        });
        try {
          raw.kafkaClient = await measureKafkaProducer({
            bootstrap: options.urls.kafka,
            topic,
            seconds: options.rawSeconds,
            inFlight: options.kafkaInFlight,
            recordBytes: 0,
          });
        } catch (error) {
          note("R_kafka(client)", error);
        }
        try {
          raw.producerPerformance = await producerPerformance({
            bootstrap: options.urls.kafka,
            topic,
            numRecords: options.ppRecords,
            recordSize: raw.kafkaClient?.recordBytes ?? sampleOrderRecord().length,
            workDir: work,
          });
        } catch (error) {
          note("R_kafka(ProducerPerformance)", error);
        }
      } catch (error) {
        note("Kafka raw rates", error);
      } finally {
        await admin.close().catch(() => {});
        await cleanups.undoLast(`delete Kafka topic ${topic}`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  raw.seconds = (performance.now() - started) / 1000;
  return raw;
}

// ---------------------------------------------------------------------------------------------
// One run: the orders pipeline, then the validator alone

interface GrpcFigures {
  concurrency: number;
  seconds: number;
  calls: number;
  callsPerSecond: number;
  latency: Summary;
  failed: number;
  failures: Record<string, number>;
  failureSamples: string[];
  validatorCpuMsPerCall: number;
  clientCpuMsPerCall: number;
}

interface KafkaEmitterFigures {
  /** Records the `orders` topic grew by during the run (broker end offsets). */
  records: number;
  /** First record seen appended, and the last (the N-th), after the first POST, s. */
  firstSeconds: number;
  lastSeconds: number;
  /** records ÷ (last − first): how fast the relay appended them, as the broker saw it. */
  recordsPerSecond: number;
  samples: number;
  sampleErrors: number;
}

interface RunFigures {
  stream: StreamKind;
  jobs: Jobs;
  repetition: number;
  n: number;
  concurrency: number;
  accepted: number;
  failed: number;
  failures: Record<string, number>;
  failureSamples: string[];
  acceptedPerSecond: number;
  /** accepted ÷ (first POST → the summary counting all of them); NaN if it never did. */
  e2ePerSecond: number;
  /** accepted − counted by the analytics summary at the end. */
  lost: number;
  counted: number;
  baseline: number;
  post: Summary;
  /** POST sent → notification.created seen on GET /api/events, per order. */
  toNotification: Summary;
  notifications: { events: number; sql: number | undefined };
  emails: { sql: number | undefined; lastSeconds: number | undefined };
  ordersSql: number | undefined;
  secondsToLast201: number;
  secondsToCounted: number;
  secondsToAllNotified: number;
  timedOut: boolean;
  /** The analytics count stopped short of the accepted orders (see the notes). */
  stalled: boolean;
  kafka: KafkaEmitterFigures | undefined;
  /** Outbox rows the relay published, by destination (its /metrics). */
  relayPublished: Record<string, number>;
  batches: Record<string, { mean: number; count: number }>;
  processes: ProcessFigures[];
  engines: GroupFigures[];
  machine: MachineFigures;
  grpc: GrpcFigures | undefined;
  startupSeconds: number;
  notes: string[];
}

async function runOrders(
  options: Options,
  stream: StreamKind,
  jobs: Jobs,
  repetition: number,
): Promise<RunFigures> {
  const work = mkdtempSync(path.join(os.tmpdir(), `taskflow-bench-orders-${stream}-`));
  const logs = path.join(work, "logs");
  mkdirSync(logs);
  const notes: string[] = [];
  const depth = cleanups.depth;
  if (!options.keep) {
    cleanups.add(`remove ${work}`, async () => rmSync(work, { recursive: true, force: true }));
  }
  const tag = `${process.pid}_${randomHex(4)}`;
  const groups: Record<string, readonly string[]> = { ...ENGINE_GROUPS };
  if (jobs === "redis") groups.redis = STREAM_ENGINE_GROUPS.redis as readonly string[];
  if (stream !== "embedded") groups[stream] = STREAM_ENGINE_GROUPS[stream] as readonly string[];
  const sampler = new ProcSampler(200, groups);
  let watcher: EventWatcher | undefined;
  let offsets: EndOffsetSampler | undefined;
  const kafka = stream === "kafka" ? kafkaAdmin(options.urls.kafka) : undefined;
  const startupStarted = performance.now();
  try {
    // The stream first: it refuses to run beside another analytics consumer of the group.
    const site = await openStreamSite(stream, options.urls, STREAM_TOPICS, ANALYTICS_GROUP);
    cleanups.add(`remove what the run made on the ${stream} stream`, async () => {
      const removed = await site.cleanup();
      if (removed) console.log(`  (${stream} stream: removed ${removed})`);
    });
    if (site.existing) {
      notes.push(
        `the ${stream} stream already held ${site.existing}: the roles' names are fixed, so the run shared them and left them (counts are taken against a baseline)`,
      );
    }

    const dbName = `bench_orders_${tag}`;
    const dbUrl = await createDatabase(options.pgUrl, dbName);
    cleanups.add(`drop database ${dbName}`, () => dropDatabase(options.pgUrl, dbName));

    // RabbitMQ: a vhost of the run's own (the event exchange and the notifier's queue have
    // fixed names); without rabbitmqctl, the default vhost and a task queue of its own.
    let amqpUrl = options.amqpUrl;
    const vhost = `bench_orders_${tag}`;
    const taskQueue = `bench.${tag}`;
    try {
      await createVhost(vhost, decodeURIComponent(new URL(options.amqpUrl).username || "guest"));
      cleanups.add(`delete RabbitMQ vhost ${vhost}`, () => deleteVhost(vhost));
      amqpUrl = vhostUrl(options.amqpUrl, vhost);
    } catch (error) {
      notes.push(
        `no RabbitMQ vhost of its own (${errorMessage(error).split("\n")[0]}): exchange taskflow.events and queue notifier are shared with whatever else uses this RabbitMQ`,
      );
      cleanups.add(`delete queues ${taskQueue}*`, () => deleteTaskQueues(amqpUrl, taskQueue));
    }

    const jobQueue = `bench.${tag}.jobs`;
    if (jobs === "redis") {
      cleanups.add(`delete Redis keys bull:${jobQueue}:*`, async () => {
        await deleteRedisKeys(options.urls.redis, `bull:${jobQueue}:*`);
      });
    }

    const operator = { email: `ops-${randomHex(6)}@example.com`, password: randomSecret(24) };
    const [apiPort, relayPort, notifierPort, mailerPort, analyticsPort, grpcPort, opsPort] =
      (await freePorts(7)) as [number, number, number, number, number, number, number];
    const url = streamUrl(stream, options.urls);
    const env = childEnv({
      NODE_ENV: "production",
      TASKFLOW_JWT_SECRET: randomSecret(48),
      TASKFLOW_JWT_TTL_SECONDS: "3600",
      TASKFLOW_LOG_LEVEL: "warn",
      TASKFLOW_LOGIN_RATE_LIMIT: "1000",
      TASKFLOW_DATA_DIR: path.join(work, "data"),
      TASKFLOW_DATABASE_URL: databaseUrl(options.pgUrl, dbName),
      TASKFLOW_AMQP_URL: amqpUrl,
      TASKFLOW_TASK_QUEUE: taskQueue,
      TASKFLOW_JOB_QUEUE: jobQueue,
      TASKFLOW_ADMIN_EMAILS: operator.email,
      TASKFLOW_VALIDATOR_URL: `127.0.0.1:${grpcPort}`,
      ...(jobs === "redis" ? { TASKFLOW_REDIS_URL: options.urls.redis } : {}),
      ...(url ? { TASKFLOW_STREAM_URL: url } : {}),
    });
    await runToEnd("migrate up", process.execPath, [CLI, "migrate", "up"], {
      env,
      cwd: ROOT,
      logFile: path.join(logs, "migrate.log"),
      timeoutMs: 90_000,
    });
    // Operators cannot register over HTTP: `taskflow user create`, the password on stdin.
    await runToEnd(
      "user create",
      process.execPath,
      [CLI, "user", "create", operator.email, "Bench", "Operator"],
      {
        env,
        cwd: ROOT,
        logFile: path.join(logs, "user-create.log"),
        timeoutMs: 60_000,
        input: `${operator.password}\n`,
      },
    );

    const ports: Record<Role, number> = {
      validator: grpcPort,
      api: apiPort,
      relay: relayPort,
      notifier: notifierPort,
      mailer: mailerPort,
      analytics: analyticsPort,
    };
    const started = new Map<Role, Child>();
    for (const role of ROLES) {
      const child = spawnChild(role, process.execPath, [...NODE_FLAGS, CLI, role], {
        env: {
          ...env,
          TASKFLOW_PORT: String(ports[role]),
          ...(role === "validator" ? { TASKFLOW_OPS_PORT: String(opsPort) } : {}),
        },
        cwd: ROOT,
        logFile: path.join(logs, `${role}.log`),
      });
      cleanups.add(`stop ${role}`, async () => {
        const how = await stopChild(child, 10_000);
        if (how === "killed") console.log(`  (${role} ignored SIGTERM for 10 s: SIGKILL)`);
        else if (how === "exited" && child.exitStatus !== 0)
          console.log(`  (${role} exited with ${child.exitStatus} after SIGTERM)`);
      });
      started.set(role, child);
    }
    // The validator's HTTP ops endpoints are on its ops port; every other role's on its own.
    const httpPort = (role: Role) => (role === "validator" ? opsPort : ports[role]);
    await Promise.all(
      [...started].map(([role, child]) => waitReady(child, httpPort(role), "/readyz", 300_000)),
    );
    const startupSeconds = (performance.now() - startupStarted) / 1000;
    for (const [role, child] of started) sampler.track(role, child.pid);
    sampler.track("bench", process.pid);
    sampler.start();

    // A customer, and the operator who may read the analytics.
    const email = `bench-${randomHex(6)}@example.com`;
    const password = randomSecret(24);
    const registered = await jsonRequest(apiPort, "POST", "/api/auth/register", {
      body: { email, password, name: "bench" },
    });
    if (registered.status !== 201)
      throw new Error(`register answered ${registered.status}: ${JSON.stringify(registered.body)}`);
    const login = async (who: string, pass: string) => {
      const answer = await jsonRequest<{ access_token: string }>(
        apiPort,
        "POST",
        "/api/auth/login",
        {
          body: { email: who, password: pass },
        },
      );
      if (answer.status !== 200 || !answer.body.access_token)
        throw new Error(`login ${who} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      return answer.body.access_token;
    };
    const token = await login(email, password);
    const operatorToken = await login(operator.email, operator.password);

    const summaryCount = async () => {
      const answer = await jsonRequest<{ orders: { count: number } }>(
        apiPort,
        "GET",
        `/api/analytics/summary?minutes=${SUMMARY_MINUTES}&top=1`,
        { token: operatorToken },
      );
      if (answer.status !== 200)
        throw new Error(`GET /api/analytics/summary answered ${answer.status}`);
      return answer.body.orders.count;
    };
    // The baseline: orders of the last hour the stream already held (another run's, on a
    // shared topic), once the analytics role has read them (stable for 1.5 s, at most 30 s).
    let baseline = await summaryCount();
    {
      const until = performance.now() + 30_000;
      let stable = 0;
      while (stable < 3 && performance.now() < until) {
        await sleep(500);
        const now = await summaryCount();
        stable = now === baseline ? stable + 1 : 0;
        baseline = now;
      }
      if (baseline) notes.push(`the analytics summary counted ${baseline} orders before the load`);
    }

    watcher = new EventWatcher();
    await watcher.open(apiPort, token);

    let offsetBase = 0;
    if (kafka) {
      offsetBase = await endOffsetSum(kafka, ORDERS_TOPIC);
      offsets = new EndOffsetSampler(kafka, ORDERS_TOPIC, 50);
    }
    const poster = createPoster(
      "undici",
      {
        port: apiPort,
        path: "/api/orders",
        headers: { authorization: `Bearer ${token}` },
        body: Buffer.from(JSON.stringify(ORDER)),
      },
      options.concurrency,
    );

    const busy = await waitQuiet(
      options.waitQuiet,
      [...started.values()].map((c) => c.pid),
    );
    if (busy) notes.push(busy);
    // Idle: after readiness and logins, before the load (idle RSS and idle CPU).
    sampler.markIdleStart();
    await sleep(2_000);
    sampler.markWindowStart();
    offsets?.start();
    const driven: DriveResult = await drive({
      send: poster.send,
      concurrency: options.concurrency,
      n: options.n,
      expectStatus: 201,
      parseId: true,
    });
    poster.close();
    const accepted = driven.ok;

    // End to end: the analytics summary counts every accepted order (polled every 100 ms).
    // Given up at the deadline, or once the count has not moved for STALL_MS.
    const deadline = performance.now() + (60 + options.n / 100) * 1000;
    let counted = 0;
    let countedAt: number | undefined;
    let timedOut = false;
    let stalled = false;
    let lastChange = performance.now();
    let pollFailures = 0;
    let pollFailure = "";
    for (;;) {
      const now = performance.now();
      try {
        const count = (await summaryCount()) - baseline;
        if (count !== counted) lastChange = performance.now();
        counted = count;
      } catch (error) {
        pollFailures++;
        pollFailure = errorMessage(error);
      }
      if (counted >= accepted) {
        countedAt = performance.now();
        break;
      }
      if (now - lastChange > STALL_MS) {
        stalled = true;
        notes.push(
          `the analytics count stopped at ${counted} of ${accepted} for ${STALL_MS / 1000} s: given up`,
        );
        break;
      }
      if (now > deadline || interrupted()) {
        timedOut = true;
        break;
      }
      await sleep(100);
    }
    if (pollFailures) notes.push(`${pollFailures} summary polls failed, e.g. ${pollFailure}`);
    if (kafka && counted < accepted) {
      // Why: the analytics group's offsets and assignments on the orders topic.
      notes.push(
        await describeGroupOnTopic(kafka, ANALYTICS_GROUP, ORDERS_TOPIC).catch(
          (error: unknown) => `could not describe the analytics group: ${errorMessage(error)}`,
        ),
      );
    }

    // Then the rest of the fan-out: every notification (SSE) and confirmation email (SQL).
    const countEmails = () =>
      withDatabase(dbUrl, async (c) => {
        const { rows } = await c.query<{ n: number; last: number | null }>(
          `SELECT count(*)::int AS n, (extract(epoch FROM max(created_at)) * 1000)::float8 AS last
           FROM mail_sink WHERE subject LIKE $1`,
          [CONFIRMATION_SUBJECT],
        );
        return { n: rows[0]?.n ?? 0, last: rows[0]?.last ?? null };
      });
    const fanOutDeadline = Math.max(deadline, performance.now() + 30_000);
    let emails = { n: 0, last: null as number | null };
    for (;;) {
      emails = await countEmails().catch(() => emails);
      if (watcher.notificationAt.size >= accepted && emails.n >= accepted) break;
      if (performance.now() > fanOutDeadline || interrupted()) {
        notes.push(
          `the fan-out did not finish: ${watcher.notificationAt.size} notifications seen, ${emails.n} confirmation emails`,
        );
        break;
      }
      await sleep(250);
    }
    sampler.markWindowEnd();
    await offsets?.stop();

    // What the roles report, and what the database holds.
    const batches = groupCommitMeans((await fetchMetrics(apiPort)) ?? "");
    const relayMetrics = await fetchMetrics(relayPort);
    const relayPublished = relayMetrics
      ? metricByLabel(relayMetrics, "taskflow_messages_published_total", "destination")
      : {};
    const startsById = new Map<string, number>();
    driven.okIds.forEach((id, i) => {
      startsById.set(id, driven.okStarts[i] as number);
    });
    let ordersSql: number | undefined;
    let notificationsSql: number | undefined;
    const toNotification: number[] = [];
    let lastNotified = Number.NaN;
    await withDatabase(dbUrl, async (c) => {
      ordersSql = Number((await c.query("SELECT count(*) AS n FROM orders")).rows[0]?.n);
      const { rows } = await c.query<{ id: string; order_id: string }>(
        "SELECT id, data->>'order_id' AS order_id FROM notifications",
      );
      notificationsSql = rows.length;
      for (const r of rows) {
        const seen = watcher?.notificationAt.get(r.id);
        const start = startsById.get(r.order_id);
        if (seen === undefined || start === undefined) continue;
        toNotification.push(seen - start);
        if (!(seen <= lastNotified)) lastNotified = seen;
      }
    });
    if (watcher.error) notes.push(watcher.error);

    let kafkaFigures: KafkaEmitterFigures | undefined;
    if (kafka && offsets) {
      const finalOffset = await endOffsetSum(kafka, ORDERS_TOPIC);
      const first = offsets.reached(offsetBase + 1);
      const last = offsets.reached(offsetBase + accepted);
      const records = finalOffset - offsetBase;
      kafkaFigures = {
        records,
        firstSeconds: first === undefined ? Number.NaN : (first - driven.firstStart) / 1000,
        lastSeconds: last === undefined ? Number.NaN : (last - driven.firstStart) / 1000,
        recordsPerSecond:
          first !== undefined && last !== undefined && last > first
            ? accepted / ((last - first) / 1000)
            : Number.NaN,
        samples: offsets.samples.length,
        sampleErrors: offsets.errors,
      };
      if (records !== accepted)
        notes.push(
          `the orders topic grew by ${records} records for ${accepted} orders (re-appends, or another producer)`,
        );
    }
    const processes = sampler.processes();
    const engines = sampler.groups();
    const machine = sampler.machine();
    sampler.stop();

    // The validator alone: the other roles stop, its own gRPC client drives it.
    await Promise.all(
      [...started]
        .filter(([role]) => role !== "validator")
        .map(([, child]) => stopChild(child, 10_000)),
    );
    let grpc: GrpcFigures | undefined;
    if (!interrupted()) {
      try {
        grpc = await measureValidator(
          options,
          `127.0.0.1:${grpcPort}`,
          token,
          started.get("validator") as Child,
        );
      } catch (error) {
        notes.push(`gRPC measurement failed: ${errorMessage(error)}`);
      }
    }

    const secondsToLast201 = (driven.lastOk - driven.firstStart) / 1000;
    const secondsToCounted =
      countedAt === undefined ? Number.NaN : (countedAt - driven.firstStart) / 1000;
    return {
      stream,
      jobs,
      repetition,
      n: options.n,
      concurrency: options.concurrency,
      accepted,
      failed: driven.failed,
      failures: Object.fromEntries(driven.failures),
      failureSamples: driven.failureSamples,
      acceptedPerSecond: accepted / secondsToLast201,
      e2ePerSecond: countedAt === undefined ? Number.NaN : accepted / secondsToCounted,
      lost: accepted - counted,
      counted,
      baseline,
      post: summarize(driven.okLatencies),
      toNotification: summarize(toNotification),
      notifications: { events: watcher.notificationAt.size, sql: notificationsSql },
      emails: {
        sql: emails.n,
        lastSeconds:
          emails.last === null
            ? undefined
            : (emails.last - performance.timeOrigin - driven.firstStart) / 1000,
      },
      ordersSql,
      secondsToLast201,
      secondsToCounted,
      secondsToAllNotified: (lastNotified - driven.firstStart) / 1000,
      timedOut,
      stalled,
      kafka: kafkaFigures,
      relayPublished,
      batches,
      processes,
      engines,
      machine,
      grpc,
      startupSeconds,
      notes,
    };
  } finally {
    watcher?.close();
    sampler.stop();
    await offsets?.stop();
    await kafka?.close().catch(() => {});
    // Undo what this run created: the roles first, then the queues, vhost, database, topics.
    await cleanups.undoTo(depth);
    if (options.keep) console.log(`  (kept ${work})`);
  }
}

/**
 * ValidateOrder at concurrency C over one client (one HTTP/2 connection, as the API's), a
 * warm-up of 0.5 s, then `grpcSeconds`: calls/s, latency, the validator's CPU per call.
 */
async function measureValidator(
  options: Options,
  target: string,
  token: string,
  validator: Child,
): Promise<GrpcFigures> {
  const client = createValidatorClient(target, () => token);
  try {
    const send = async () => {
      const answer = await client.validateOrder(ORDER);
      return answer.outcome.case === "priced"
        ? { status: 200, text: "" }
        : { status: 422, text: JSON.stringify(answer.outcome.value ?? null) };
    };
    const run = (durationMs: number) =>
      drive({
        send,
        concurrency: options.concurrency,
        durationMs,
        expectStatus: 200,
        parseId: false,
      });
    await run(500);
    const cpu0 = readProc(validator.pid)?.cpuSeconds ?? Number.NaN;
    const self0 = process.cpuUsage();
    const result = await run(options.grpcSeconds * 1000);
    const self = process.cpuUsage(self0);
    const cpu = (readProc(validator.pid)?.cpuSeconds ?? Number.NaN) - cpu0;
    const seconds = (result.ended - result.firstStart) / 1000;
    return {
      concurrency: options.concurrency,
      seconds,
      calls: result.ok,
      callsPerSecond: result.ok / seconds,
      latency: summarize(result.okLatencies),
      failed: result.failed,
      failures: Object.fromEntries(result.failures),
      failureSamples: result.failureSamples,
      validatorCpuMsPerCall: (cpu * 1000) / result.ok,
      clientCpuMsPerCall: (self.user + self.system) / 1000 / result.ok,
    };
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a) || !b ? "–" : (a / b).toFixed(2);

function rawBlock(raw: RawFigures): string {
  const lines = [`raw rates, repetition ${raw.repetition} (${dec(raw.seconds, 0)} s):`];
  const a = raw.amqp;
  if (a) {
    lines.push(
      `  R_amqp(classic)         ${padLeft(int(a.consumedPerSecond), 7)} msg/s consumed+acked  (${int(a.confirmedPerSecond)} published+confirmed/s; durable, persistent, confirms per 500, prefetch 200)`,
    );
  }
  const p = raw.pg1;
  if (p) {
    lines.push(
      `  R_pg1                   ${padLeft(int(p.tps), 7)} tps  (${p.tool}, ${p.clients} clients, latency avg ${dec(p.latencyMs, 2)} ms)`,
    );
  }
  const k = raw.kafkaClient;
  if (k) {
    lines.push(
      `  R_kafka(client)         ${padLeft(int(k.recordsPerSecond), 7)} records/s  (@platformatic/kafka as TaskFlow's adapter sets it up: idempotent, acks=all; one record per send, ${k.inFlight} sends awaited at once; ${k.recordBytes}-byte values; send p50 ${dec(k.send.p50)} / p99 ${dec(k.send.p99)} ms; client CPU ${dec(k.clientCpuMsPerRecord, 3)} ms/record)`,
    );
  }
  const pp = raw.producerPerformance;
  if (pp) {
    lines.push(
      `  R_kafka(ProducerPerf)   ${padLeft(int(pp.recordsPerSecond), 7)} records/s  (Kafka's ProducerPerformance, Java client defaults (batching, linger), acks=all; ${int(pp.numRecords)} × ${pp.recordSize} B, ${dec(pp.mbPerSecond, 2)} MB/s; latency avg ${dec(pp.avgLatencyMs, 0)} / p50 ${dec(pp.p50Ms, 0)} / p99 ${dec(pp.p99Ms, 0)} ms; ${dec(pp.seconds, 1)} s with the JVM's start)`,
    );
  }
  if (k && pp) {
    lines.push(
      `  R_kafka(client) / R_kafka(ProducerPerf) ${ratio(k.recordsPerSecond, pp.recordsPerSecond)}`,
    );
  }
  for (const e of raw.errors) lines.push(`  ! ${e}`);
  return lines.join("\n");
}

function runBlock(run: RunFigures, raw: RawFigures | undefined): string {
  const lines: string[] = [];
  lines.push(
    `orders end to end: stream ${run.stream}  jobs ${run.jobs}  N=${int(run.n)}  c=${run.concurrency}  (repetition ${run.repetition}; start-up of the 6 roles ${dec(run.startupSeconds)} s)`,
  );
  lines.push(
    `accepted/s ${int(run.acceptedPerSecond)}   e2e orders/s ${int(run.e2ePerSecond)}   lost ${run.lost}   failed POSTs ${run.failed}${run.timedOut ? "   TIMED OUT" : ""}${run.stalled ? "   COUNT STALLED" : ""}`,
  );
  lines.push(
    `POST p50 ${dec(run.post.p50)} ms  p99 ${dec(run.post.p99)} ms  (max ${dec(run.post.max)})   order→notification p50 ${dec(run.toNotification.p50)} ms  p99 ${dec(run.toNotification.p99)} ms  (max ${dec(run.toNotification.max)}, n ${run.toNotification.n})`,
  );
  lines.push(
    `first POST → last 201 ${dec(run.secondsToLast201, 2)} s, → analytics counted all ${dec(run.secondsToCounted, 2)} s, → last notification ${dec(run.secondsToAllNotified, 2)} s, → last email ${dec(run.emails.lastSeconds, 2)} s`,
  );
  lines.push(
    `counted by the summary ${run.counted}${run.baseline ? ` (above a baseline of ${run.baseline})` : ""}; orders in SQL ${run.ordersSql ?? "–"}; notifications: events ${run.notifications.events}, SQL ${run.notifications.sql ?? "–"}; confirmation emails ${run.emails.sql ?? "–"}`,
  );
  if (run.failed)
    lines.push(
      `POST failures: ${JSON.stringify(run.failures)} e.g. ${run.failureSamples[0] ?? ""}`,
    );
  const k = run.kafka;
  if (k) {
    lines.push(
      `kafka emitter: the orders topic grew by ${int(k.records)} records; the relay appended them at ${int(k.recordsPerSecond)} records/s (first ${dec(k.firstSeconds, 2)} s, last ${dec(k.lastSeconds, 2)} s after the first POST: ${dec(k.lastSeconds - run.secondsToLast201, 2)} s after the last 201; broker end offsets sampled every 50 ms, ${k.samples} samples${k.sampleErrors ? `, ${k.sampleErrors} failed` : ""})`,
    );
  }
  const published = Object.entries(run.relayPublished);
  if (published.length) {
    lines.push(
      `relay published (outbox rows, its /metrics): ${published.map(([d, n]) => `${d} ${int(n)}`).join("  ")}`,
    );
  }
  lines.push(...processTable(run, run.accepted, "order"));
  const batchList = Object.entries(run.batches);
  if (batchList.length) {
    lines.push(
      `api group commits (mean items per statement): ${batchList.map(([name, b]) => `${name} ${dec(b.mean, 1)} (${int(b.count)}×)`).join("  ")}`,
    );
  }
  const g = run.grpc;
  if (g) {
    lines.push(
      `gRPC ValidateOrder, the validator alone (the other roles stopped), its own client, c=${g.concurrency}, ${dec(g.seconds, 1)} s: ${int(g.callsPerSecond)} validations/s  p50 ${dec(g.latency.p50, 1)} ms  p99 ${dec(g.latency.p99, 1)} ms  (max ${dec(g.latency.max, 1)}); CPU per call: validator ${dec(g.validatorCpuMsPerCall, 3)} ms, client ${dec(g.clientCpuMsPerCall, 3)} ms; failed ${g.failed}${g.failed ? ` ${JSON.stringify(g.failures)} e.g. ${g.failureSamples[0] ?? ""}` : ""}`,
    );
  }
  if (raw) {
    const parts = [
      `e2e/R_pg1 ${ratio(run.e2ePerSecond, raw.pg1?.tps)}`,
      `e2e/R_amqp(classic) ${ratio(run.e2ePerSecond, raw.amqp?.consumedPerSecond)}`,
    ];
    if (run.stream === "kafka") {
      parts.push(
        `e2e/R_kafka(client) ${ratio(run.e2ePerSecond, raw.kafkaClient?.recordsPerSecond)}`,
        `emitter/R_kafka(client) ${ratio(k?.recordsPerSecond, raw.kafkaClient?.recordsPerSecond)}`,
        `R_kafka(client)/ProducerPerf ${ratio(raw.kafkaClient?.recordsPerSecond, raw.producerPerformance?.recordsPerSecond)}`,
      );
    }
    parts.push(`validations/R_pg1 ${ratio(g?.callsPerSecond, raw.pg1?.tps)}`);
    lines.push(`ratios: ${parts.join("  ")}`);
  }
  for (const n of run.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}

function summaryBlock(runs: RunFigures[], raws: RawFigures[], repeat: number): string {
  const lines = [
    repeat > 1
      ? `summary: median of ${repeat} repetitions [min–max]`
      : "summary (one repetition; PERFORMANCE.md asks for the median of 3: --repeat 3)",
  ];
  const fmt = medianRange;
  const d1 = (n: number) => dec(n);
  const d2 = (n: number) => dec(n, 2);
  const byRep = (r: RunFigures) => raws.find((x) => x.repetition === r.repetition);
  for (const stream of STREAM_KINDS) {
    const rs = runs.filter((r) => r.stream === stream);
    if (!rs.length) continue;
    const of = (f: (r: RunFigures) => number | undefined) => rs.map((r) => f(r) ?? Number.NaN);
    lines.push(
      `  ${pad(stream, 9)} accepted/s ${fmt(
        of((r) => r.acceptedPerSecond),
        int,
      )}  e2e/s ${fmt(
        of((r) => r.e2ePerSecond),
        int,
      )}  POST p50 ${fmt(
        of((r) => r.post.p50),
        d1,
      )} p99 ${fmt(
        of((r) => r.post.p99),
        d1,
      )} ms  →notification p50 ${fmt(
        of((r) => r.toNotification.p50),
        d1,
      )} p99 ${fmt(
        of((r) => r.toNotification.p99),
        d1,
      )} ms  lost ${rs.map((r) => r.lost).join(",")}  failed POSTs ${rs.map((r) => r.failed).join(",")}  machine CPU/order ${fmt(
        of((r) => (r.machine.busyCpuSeconds * 1000) / r.accepted),
        d2,
      )} ms  gRPC ${fmt(
        of((r) => r.grpc?.callsPerSecond),
        int,
      )}/s`,
    );
    if (raws.length) {
      const parts = [
        `e2e/R_pg1 ${fmt(
          of((r) => r.e2ePerSecond / (byRep(r)?.pg1?.tps ?? Number.NaN)),
          d2,
        )}`,
        `e2e/R_amqp(classic) ${fmt(
          of((r) => r.e2ePerSecond / (byRep(r)?.amqp?.consumedPerSecond ?? Number.NaN)),
          d2,
        )}`,
      ];
      if (stream === "kafka") {
        parts.push(
          `e2e/R_kafka(client) ${fmt(
            of((r) => r.e2ePerSecond / (byRep(r)?.kafkaClient?.recordsPerSecond ?? Number.NaN)),
            d2,
          )}`,
          `emitter ${fmt(
            of((r) => r.kafka?.recordsPerSecond),
            int,
          )} records/s`,
        );
      }
      lines.push(`  ${pad("", 9)} ${parts.join("  ")}`);
    }
  }
  if (raws.length) {
    const rawOf = (f: (r: RawFigures) => number | undefined) => raws.map((r) => f(r) ?? Number.NaN);
    lines.push(
      `  raw: R_pg1 ${fmt(
        rawOf((r) => r.pg1?.tps),
        int,
      )}  R_amqp(classic) ${fmt(
        rawOf((r) => r.amqp?.consumedPerSecond),
        int,
      )}  R_kafka(client) ${fmt(
        rawOf((r) => r.kafkaClient?.recordsPerSecond),
        int,
      )}  R_kafka(ProducerPerf) ${fmt(
        rawOf((r) => r.producerPerformance?.recordsPerSecond),
        int,
      )}  client/ProducerPerf ${fmt(
        rawOf(
          (r) =>
            (r.kafkaClient?.recordsPerSecond ?? Number.NaN) /
            (r.producerPerformance?.recordsPerSecond ?? Number.NaN),
        ),
        (n) => dec(n, 3),
      )}`,
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseOptions(process.argv.slice(2));
  console.log(
    `TaskFlow orders bench: node ${process.version}, ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const [pgInfo, mqInfo] = await Promise.all([
    checkPostgres(options.pgUrl),
    checkRabbitMq(options.amqpUrl),
  ]);
  const engineInfo = [pgInfo, mqInfo];
  let streams = options.streams;
  if (!streams) {
    const kafkaUp = await checkStream("kafka", options.urls).then(
      () => true,
      () => false,
    );
    streams = [kafkaUp ? "kafka" : "embedded"];
    if (!kafkaUp)
      console.log(
        `(no Kafka broker at ${options.urls.kafka}: the embedded stream; npm run kafka:start)`,
      );
  }
  for (const stream of streams) {
    try {
      engineInfo.push(`stream ${await checkStream(stream, options.urls)}`);
    } catch (error) {
      throw new Error(`--stream ${stream}: the engine does not answer: ${errorMessage(error)}`);
    }
  }
  let jobs: Jobs;
  if (options.jobs === "auto") {
    jobs = await checkRedis(options.urls.redis).then(
      (info) => {
        engineInfo.push(`jobs on ${info}`);
        return "redis" as const;
      },
      () => "embedded" as const,
    );
  } else {
    jobs = options.jobs;
    if (jobs === "redis") engineInfo.push(`jobs on ${await checkRedis(options.urls.redis)}`);
  }
  console.log(`engines: ${engineInfo.join("; ")}`);
  CLI = await buildBundle();

  const runs: RunFigures[] = [];
  const raws: RawFigures[] = [];
  for (let repetition = 1; repetition <= options.repeat && !interrupted(); repetition++) {
    let raw: RawFigures | undefined;
    if (!options.skipRaw) {
      const busy = await waitQuiet(options.waitQuiet);
      raw = await measureRaw(options, repetition, streams.includes("kafka"));
      if (busy) raw.errors.push(busy);
      raws.push(raw);
      console.log(`\n${rawBlock(raw)}\n`);
    }
    for (const stream of streams) {
      if (interrupted()) break;
      console.log(
        `running orders on stream ${stream}, N=${options.n}, c=${options.concurrency} (repetition ${repetition})…`,
      );
      try {
        const run = await runOrders(options, stream, jobs, repetition);
        runs.push(run);
        console.log(`\n${runBlock(run, raw)}\n`);
      } catch (error) {
        if (interrupted()) break;
        console.error(`\nrun on stream ${stream} failed: ${errorMessage(error)}\n`);
        process.exitCode = 1;
      }
    }
  }
  if (runs.length) console.log(summaryBlock(runs, raws, options.repeat));
  if (options.json) printJson({ ...options, streams, jobs }, raws, runs);
}

main()
  .catch((error: unknown) => {
    console.error(`bench:orders: ${errorMessage(error)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    await cleanups.undoAll();
    // Nothing of ours is left running: do not wait for stray timers or sockets.
    process.exit();
  });

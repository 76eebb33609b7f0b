import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { setPriority } from "node:os";
import path from "node:path";
import { createTokenService, type TokenService } from "@taskflow/auth";
import { type Config, ConfigError } from "@taskflow/config";
import { createDatabase, type DatabaseHandle, migrationStatus } from "@taskflow/db";
import {
  createEventBus,
  createEventStream,
  createJobQueue,
  createTaskQueue,
  type EventBus,
  type EventStream,
  type JobQueue,
  type TaskQueue,
  withJobHistory,
} from "@taskflow/messaging";
import {
  createLogger,
  createMetrics,
  initTracing,
  type Logger,
  type Metrics,
  shutdownTracing,
} from "@taskflow/observability";

/**
 * Sets this process's nice value. (Linux keeps it per thread: this sets the main thread's,
 * where the JavaScript runs, and threads started after inherit it; V8's helper threads keep
 * theirs.) A refusal (below 0 without CAP_SYS_NICE) stops start-up with a message naming the
 * variable, as a bad value does.
 */
function setProcessPriority(nice: number): void {
  try {
    setPriority(nice);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([
      `TASKFLOW_NICE: cannot set this process's priority to ${nice} (${reason})`,
    ]);
  }
}

/** What every role is built from: one of each, shared when roles run in one process. */
export interface Runtime {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  database: DatabaseHandle;
  taskQueue: TaskQueue;
  jobQueue: JobQueue;
  /** The event bus (RabbitMQ topic exchange or embedded), opened by the first role that asks. */
  eventBus(): EventBus;
  /** The event stream (Kafka, Redis Streams, NATS JetStream or embedded), opened on demand. */
  eventStream(): EventStream;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, service: string): Promise<Runtime> {
  const logger = createLogger({ level: config.logLevel, service });
  if (config.nice !== undefined) {
    setProcessPriority(config.nice);
    logger.info({ nice: config.nice }, "process priority set (TASKFLOW_NICE)");
  }
  const metrics = createMetrics(service);
  // Off unless TASKFLOW_OTLP_ENDPOINT is set: then each role's spans go there (tracerFor).
  if (await initTracing({ otlpEndpoint: config.tracing.otlpEndpoint })) {
    logger.info({ endpoint: config.tracing.otlpEndpoint }, "tracing: exporting spans (OTLP/HTTP)");
  }
  const database = await createDatabase({
    url: config.database.url,
    dataDir: config.database.dataDir,
    poolSize: config.database.poolSize,
    // taskflow-api, taskflow-worker …: pg_stat_activity (and the benchmark) tell roles apart.
    applicationName: service === "taskflow" ? "taskflow" : `taskflow-${service}`,
    onSessionError: (error) =>
      logger.warn({ err: error }, "database notification session lost; reconnecting"),
  });
  const taskQueue = createTaskQueue({
    amqpUrl: config.amqp.url,
    queue: config.amqp.taskQueue,
    database,
    // RabbitMQ: a connection problem (it reconnects); embedded: a failed VACUUM of its table.
    onError: (error) =>
      logger.warn(
        { err: error },
        config.amqp.url
          ? "RabbitMQ connection problem; reconnecting"
          : "embedded task queue: maintenance failed",
      ),
  });
  // Every job's life is also kept in PostgreSQL (job_history): the monitor searches it there.
  const jobQueue = withJobHistory(
    createJobQueue({
      redisUrl: config.jobs.redisUrl,
      queue: config.jobs.queue,
      leaseMs: config.jobs.leaseMs,
      database,
      onError: (error) => logger.warn({ err: error }, "Redis connection problem; reconnecting"),
    }),
    database.db,
    { onError: (error) => logger.warn({ err: error }, "job history not written") },
  );
  logger.info(
    {
      database: database.engine,
      taskQueue: taskQueue.engine,
      queue: taskQueue.name,
      jobQueue: jobQueue.engine,
    },
    "engines selected",
  );
  let eventBus: EventBus | undefined;
  let eventStream: EventStream | undefined;
  return {
    config,
    logger,
    metrics,
    database,
    taskQueue,
    jobQueue,
    eventBus() {
      eventBus ??= createEventBus({
        amqpUrl: config.amqp.url,
        database,
        onError: (error) =>
          logger.warn(
            { err: error },
            config.amqp.url
              ? "RabbitMQ connection problem; reconnecting"
              : "embedded event bus: maintenance failed",
          ),
      });
      return eventBus;
    },
    eventStream() {
      eventStream ??= createEventStream(config.stream.url, {
        database,
        clientId: `taskflow-${service}`,
        onError: (error) => logger.warn({ err: error }, "event stream problem; retrying"),
      });
      return eventStream;
    },
    async close() {
      await eventStream
        ?.close()
        .catch((error: unknown) => logger.warn({ err: error }, "closing the event stream"));
      await eventBus
        ?.close()
        .catch((error: unknown) => logger.warn({ err: error }, "closing the event bus"));
      await taskQueue
        .close()
        .catch((error: unknown) => logger.warn({ err: error }, "closing the task queue"));
      await jobQueue
        .close()
        .catch((error: unknown) => logger.warn({ err: error }, "closing the job queue"));
      await database.close();
      await shutdownTracing().catch((error: unknown) =>
        logger.warn({ err: error }, "flushing the last spans"),
      );
    },
  };
}

/** Refuses to run a role against a schema older than its code. */
export async function assertMigrated(database: DatabaseHandle): Promise<void> {
  const pending = (await migrationStatus(database.db)).filter((m) => !m.executedAt);
  if (pending.length > 0) {
    throw new Error(
      `the database schema is behind (${pending.map((m) => m.name).join(", ")} pending): run \`taskflow migrate up\` first`,
    );
  }
}

/**
 * The JWT signing secret: TASKFLOW_JWT_SECRET, or outside production a random one kept in
 * the data folder (created on first use), so a fresh clone runs with no secret in the repo.
 * One per configuration: roles in one process (the API and the validator under `taskflow
 * start`) must verify each other's tokens, even with an in-memory secret.
 */
export function tokenServiceFor(config: Config, logger: Logger): TokenService {
  let service = tokenServices.get(config);
  if (!service) {
    service = newTokenService(config, logger);
    tokenServices.set(config, service);
  }
  return service;
}

const tokenServices = new WeakMap<Config, TokenService>();

function newTokenService(config: Config, logger: Logger): TokenService {
  let secret = config.auth.jwtSecret;
  if (!secret && config.database.dataDir.startsWith("memory://")) {
    // Nothing is kept for an in-memory database: neither is its secret.
    secret = randomBytes(48).toString("base64url");
  }
  if (!secret) {
    const file = path.resolve(config.database.dataDir, "jwt-secret");
    if (existsSync(file)) {
      secret = readFileSync(file, "utf8").trim();
    } else {
      mkdirSync(path.dirname(file), { recursive: true });
      secret = randomBytes(48).toString("base64url");
      writeFileSync(file, secret, { mode: 0o600 });
      chmodSync(file, 0o600);
    }
    logger.warn(
      { file },
      "TASKFLOW_JWT_SECRET is unset: using a development secret from the data folder",
    );
  }
  return createTokenService({ secret, ttlSeconds: config.auth.tokenTtlSeconds });
}

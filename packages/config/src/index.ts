import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { z } from "zod";

/** The job queue's name when TASKFLOW_JOB_QUEUE is unset. */
export const DEFAULT_JOB_QUEUE = "taskflow.jobs";

/**
 * Every setting TaskFlow reads, parsed once at start-up from TASKFLOW_* variables.
 * Nothing else in the code base reads `process.env`: pass a `Config` (or the part you need).
 */
const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  TASKFLOW_HOST: z.string().min(1).default("127.0.0.1"),
  TASKFLOW_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /**
   * Where a role whose TASKFLOW_PORT speaks gRPC (the validator) serves /healthz /readyz
   * /metrics; unset: no HTTP at all, gRPC health only.
   */
  TASKFLOW_OPS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * host:port of the validator's gRPC server, for its clients; unset: `taskflow start` runs
   * the validator in-process (on an ephemeral loopback port).
   */
  TASKFLOW_VALIDATOR_URL: z
    .string()
    .refine(isHostAndPort, "must be host:port, e.g. validator:50051 or 10.0.0.7:50051")
    .optional(),
  /**
   * OTLP/HTTP base URL of a trace collector (`http://collector:4318`); unset: tracing is off
   * (no SDK loaded, only the incoming `traceparent` is carried along).
   */
  TASKFLOW_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  TASKFLOW_LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info"),

  /** PostgreSQL URL; unset means embedded PGlite in TASKFLOW_DATA_DIR. */
  TASKFLOW_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  TASKFLOW_DATA_DIR: z.string().min(1).default("./.taskflow"),
  TASKFLOW_DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),

  /** RabbitMQ URL; unset means the embedded, database-backed task queue. */
  TASKFLOW_AMQP_URL: z.url({ protocol: /^amqps?$/ }).optional(),
  TASKFLOW_TASK_QUEUE: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,200}$/)
    .default("taskflow.tasks"),

  /**
   * Redis URL for background jobs (BullMQ) and the API's rate-limit counters (shared by its
   * replicas); unset means the embedded, database-backed job queue and per-process counters.
   */
  TASKFLOW_REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  TASKFLOW_JOB_QUEUE: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,200}$/)
    .default(DEFAULT_JOB_QUEUE),
  TASKFLOW_MAILER_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(8),
  /**
   * Event stream: kafka://host:port[,host:port…], redis:// or rediss://, nats://host:port[,…];
   * unset means the embedded stream in the application database.
   */
  TASKFLOW_STREAM_URL: z
    .string()
    .refine(isStreamUrl, "must be kafka://host:port[,host:port…], redis(s)://… or nats://…")
    .optional(),
  /** A crashed job processor's jobs run again after about this long. */
  TASKFLOW_JOB_LEASE_MS: z.coerce.number().int().min(500).max(3_600_000).default(30_000),
  /** SMTP URL (smtp://user:pass@host:587); unset means the embedded mail sink. */
  TASKFLOW_SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  TASKFLOW_MAIL_FROM: z.string().min(3).max(320).default("TaskFlow <no-reply@taskflow.local>"),
  /** Where links in emails point. */
  TASKFLOW_APP_URL: z.url({ protocol: /^https?$/ }).default("http://127.0.0.1:8080"),

  /** Finished tasks and jobs older than this are deleted from the history. */
  TASKFLOW_HISTORY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(30),
  /** Alerts are POSTed here as JSON; unset: no webhook. */
  TASKFLOW_ALERT_WEBHOOK: z.url({ protocol: /^https?$/ }).optional(),
  /** Comma-separated recipients of alert emails; empty: no email. */
  TASKFLOW_ALERT_EMAILS: z
    .string()
    .transform((list) =>
      list
        .split(",")
        .map((email) => email.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.email()))
    .default([]),
  /** Alert when a dead-letter queue holds more than this many messages or failed jobs. */
  TASKFLOW_ALERT_DEAD_LETTERS: z.coerce.number().int().min(0).default(0),
  /** Alert when more than this share of the last 5 minutes' finished tasks FAILED. */
  TASKFLOW_ALERT_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0.2),
  /** Alert when the outbox's oldest due message is older than this (publishing lags). */
  TASKFLOW_ALERT_LAG_SECONDS: z.coerce.number().int().min(1).default(60),

  TASKFLOW_JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  TASKFLOW_JWT_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
  TASKFLOW_LOGIN_RATE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(10),
  TASKFLOW_LOGIN_RATE_LIMIT_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(100),
  TASKFLOW_COOKIE_SECURE: z.stringbool().optional(),
  /** Comma-separated emails of the operators who may use /api/monitor. */
  TASKFLOW_ADMIN_EMAILS: z
    .string()
    .transform((list) =>
      list
        .split(",")
        .map((email) => email.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(z.array(z.email()))
    .default([]),
  /** Task submissions (POST /api/tasks) per user per minute. */
  TASKFLOW_TASK_RATE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(6_000),

  TASKFLOW_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(64),
  TASKFLOW_WORKER_PREFETCH: z.coerce.number().int().min(1).max(65_535).optional(),
  TASKFLOW_RETRY_BASE_MS: z.coerce.number().int().min(1).max(3_600_000).default(1_000),
  TASKFLOW_RETRY_MAX_MS: z.coerce.number().int().min(1).max(86_400_000).default(300_000),
  TASKFLOW_TRUST_PROXY: z.stringbool().default(false),
  /** The built web app the API serves at / (index.html, assets/); default services/web/dist. */
  TASKFLOW_WEB_DIR: z.string().min(1).optional(),
  TASKFLOW_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /**
   * The process's CPU priority (Unix nice, -20 … 19), set at start-up. For background roles
   * (worker, relay) that share cores with the API: they yield to requests, and what waits
   * meanwhile is committed in bigger batches. Below 0 needs CAP_SYS_NICE.
   */
  TASKFLOW_NICE: z.coerce.number().int().min(-20).max(19).optional(),
  /**
   * Test only (the chaos suite): registers the `chaos.effect` task type, whose side effect is
   * a POST to this URL (the suite's effects ledger). Unset in production: no such type.
   */
  TASKFLOW_CHAOS_EFFECT_URL: z.url({ protocol: /^https?$/ }).optional(),
});

export type Env = z.infer<typeof envSchema>;

/** "host:port" with a port from 1 to 65535 (a gRPC target): no scheme, user or path. */
function isHostAndPort(value: string): boolean {
  const port = Number(/^[^\s/?#@]+:(\d{1,5})$/.exec(value)?.[1] ?? 0);
  return (
    port >= 1 &&
    port <= 65_535 &&
    URL.canParse(`grpc://${value}`) &&
    new URL(`grpc://${value}`).hostname !== ""
  );
}

export interface Config {
  env: Env["NODE_ENV"];
  isProduction: boolean;
  host: string;
  port: number;
  /** The ops endpoints' port of a gRPC role (TASKFLOW_OPS_PORT); undefined: none. */
  opsPort: number | undefined;
  logLevel: Env["TASKFLOW_LOG_LEVEL"];
  /** Tracing: spans are exported to `otlpEndpoint` (TASKFLOW_OTLP_ENDPOINT); undefined: off. */
  tracing: { otlpEndpoint: string | undefined };
  database: { url: string | undefined; dataDir: string; poolSize: number };
  amqp: { url: string | undefined; taskQueue: string };
  jobs: {
    redisUrl: string | undefined;
    queue: string;
    leaseMs: number;
    mailerConcurrency: number;
  };
  mail: { smtpUrl: string | undefined; from: string; appUrl: string };
  /** The validator's host:port for its clients; undefined: in-process under `taskflow start`. */
  validator: { url: string | undefined };
  stream: { url: string | undefined };
  auth: {
    jwtSecret: string | undefined;
    tokenTtlSeconds: number;
    loginRateLimitPerMinute: number;
    loginRateLimitPerAddressPerMinute: number;
    cookieSecure: boolean;
    /** Lower-cased. */
    adminEmails: string[];
  };
  tasks: { rateLimitPerMinute: number };
  history: { retentionDays: number };
  alerts: {
    webhookUrl: string | undefined;
    emails: string[];
    deadLetters: number;
    failureRate: number;
    lagSeconds: number;
  };
  worker: { concurrency: number; prefetch: number; retryBaseMs: number; retryMaxMs: number };
  trustProxy: boolean;
  shutdownTimeoutMs: number;
  /** TASKFLOW_NICE: the CPU priority the process sets itself at start-up; undefined: as started. */
  nice: number | undefined;
  /** The chaos suite's effects ledger (TASKFLOW_CHAOS_EFFECT_URL); undefined: no `chaos.effect`. */
  chaos: { effectUrl: string | undefined };
  /**
   * `dir`: the built web app, absolute: TASKFLOW_WEB_DIR, or services/web/dist of this
   * repository; undefined when it is unset and the @taskflow/web package is not installed.
   */
  web: { dir: string | undefined };
}

/**
 * services/web/dist, found through the installed @taskflow/web package (node_modules links to
 * the workspace) rather than this file's URL: in the bundle (packages/cli/dist/taskflow.mjs)
 * this module's URL is the bundle's. Looked up by folder, not `require.resolve`, so that the
 * package's `exports` do not matter.
 */
function defaultWebDir(): string | undefined {
  const require = createRequire(import.meta.url);
  for (const modules of require.resolve.paths("@taskflow/web") ?? []) {
    const pkg = path.join(modules, "@taskflow/web");
    if (existsSync(path.join(pkg, "package.json"))) return path.join(realpathSync(pkg), "dist");
  }
  return undefined;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/** kafka://host[:port],… (a URL parser cannot read the list), one Redis URL, NATS URLs. */
function isStreamUrl(value: string): boolean {
  const isUrl = (url: string) => URL.canParse(url) && new URL(url).hostname !== "";
  switch (/^([a-z]+):\/\//i.exec(value)?.[1]?.toLowerCase()) {
    case "redis":
    case "rediss":
      return isUrl(value);
    case "nats":
      return value.split(",").every((url) => isUrl(url.includes("://") ? url : `nats://${url}`));
    case "kafka": {
      const hosts = value.slice("kafka://".length).replace(/[/?#].*$/, "");
      return hosts.split(",").every((host) => HOST_PORT.test(host));
    }
    default:
      return false;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses and validates the environment; throws a ConfigError naming each bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset", as shells and compose files tend to produce them.
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join(".");
        const given = cleaned[name];
        return `${name}: ${issue.message}${given === undefined ? "" : ` (got "${given}")`}`;
      }),
    );
  }
  const env = parsed.data;
  const isProduction = env.NODE_ENV === "production";
  if (isProduction && !env.TASKFLOW_JWT_SECRET) {
    throw new ConfigError([
      "TASKFLOW_JWT_SECRET: required when NODE_ENV=production (at least 32 random characters)",
    ]);
  }
  return {
    env: env.NODE_ENV,
    isProduction,
    host: env.TASKFLOW_HOST,
    port: env.TASKFLOW_PORT,
    opsPort: env.TASKFLOW_OPS_PORT,
    logLevel: env.TASKFLOW_LOG_LEVEL,
    tracing: { otlpEndpoint: env.TASKFLOW_OTLP_ENDPOINT },
    database: {
      url: env.TASKFLOW_DATABASE_URL,
      dataDir: env.TASKFLOW_DATA_DIR,
      poolSize: env.TASKFLOW_DB_POOL_SIZE,
    },
    amqp: { url: env.TASKFLOW_AMQP_URL, taskQueue: env.TASKFLOW_TASK_QUEUE },
    jobs: {
      redisUrl: env.TASKFLOW_REDIS_URL,
      queue: env.TASKFLOW_JOB_QUEUE,
      leaseMs: env.TASKFLOW_JOB_LEASE_MS,
      mailerConcurrency: env.TASKFLOW_MAILER_CONCURRENCY,
    },
    stream: { url: env.TASKFLOW_STREAM_URL },
    validator: { url: env.TASKFLOW_VALIDATOR_URL },
    mail: {
      smtpUrl: env.TASKFLOW_SMTP_URL,
      from: env.TASKFLOW_MAIL_FROM,
      appUrl: env.TASKFLOW_APP_URL.replace(/\/$/, ""),
    },
    auth: {
      jwtSecret: env.TASKFLOW_JWT_SECRET,
      tokenTtlSeconds: env.TASKFLOW_JWT_TTL_SECONDS,
      loginRateLimitPerMinute: env.TASKFLOW_LOGIN_RATE_LIMIT,
      loginRateLimitPerAddressPerMinute: env.TASKFLOW_LOGIN_RATE_LIMIT_PER_ADDRESS,
      cookieSecure: env.TASKFLOW_COOKIE_SECURE ?? isProduction,
      adminEmails: env.TASKFLOW_ADMIN_EMAILS,
    },
    tasks: { rateLimitPerMinute: env.TASKFLOW_TASK_RATE_LIMIT },
    history: { retentionDays: env.TASKFLOW_HISTORY_RETENTION_DAYS },
    alerts: {
      webhookUrl: env.TASKFLOW_ALERT_WEBHOOK,
      emails: env.TASKFLOW_ALERT_EMAILS,
      deadLetters: env.TASKFLOW_ALERT_DEAD_LETTERS,
      failureRate: env.TASKFLOW_ALERT_FAILURE_RATE,
      lagSeconds: env.TASKFLOW_ALERT_LAG_SECONDS,
    },
    worker: {
      concurrency: env.TASKFLOW_WORKER_CONCURRENCY,
      prefetch: env.TASKFLOW_WORKER_PREFETCH ?? Math.max(env.TASKFLOW_WORKER_CONCURRENCY * 2, 100),
      retryBaseMs: env.TASKFLOW_RETRY_BASE_MS,
      retryMaxMs: env.TASKFLOW_RETRY_MAX_MS,
    },
    trustProxy: env.TASKFLOW_TRUST_PROXY,
    shutdownTimeoutMs: env.TASKFLOW_SHUTDOWN_TIMEOUT_MS,
    nice: env.TASKFLOW_NICE,
    chaos: { effectUrl: env.TASKFLOW_CHAOS_EFFECT_URL },
    web: {
      dir:
        env.TASKFLOW_WEB_DIR === undefined ? defaultWebDir() : path.resolve(env.TASKFLOW_WEB_DIR),
    },
  };
}

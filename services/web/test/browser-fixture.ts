import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  type ChildEnv,
  type Credentials,
  createTestDatabase,
  deleteRabbitMqQueue,
  freePort,
  freshTaskflowBundle,
  newCredentials,
  openRabbitMqVhost,
  type RoleProcess,
  repoRoot,
  requireServices,
  runMigrations,
  runTaskflow,
  startRole,
  type TaskflowRole,
  type TestDatabase,
  testEngines,
  uniqueName,
} from "@taskflow/testing";
import { Redis } from "ioredis";
import { type NginxRun, startNginx } from "../../../deploy/nginx/test/nginx-fixture.ts";

/**
 * What the browser tests run against: the built web app, and TaskFlow on the real engines —
 * a PostgreSQL database, a RabbitMQ virtual host, a job queue on Redis, all of the run's own —
 * each role a `taskflow` process, with Debian's nginx in front serving the app and proxying
 * /api, as deployed.
 */

const run = promisify(execFile);

export const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const distDir = path.join(webDir, "dist");
/** Where the journey's screenshots go (test-results/ is not committed). */
export const screenshotDir = path.join(repoRoot, "test-results/browser");

const CHROMIUM = "/usr/bin/chromium";

/**
 * Chromium if the tests should run: undefined (skip) when it is not installed, unless
 * TASKFLOW_REQUIRE_SERVICES=1 (CI), where that is an error.
 */
export function chromiumForTests(): string | undefined {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (requireServices) {
    throw new Error(
      `chromium is required (TASKFLOW_REQUIRE_SERVICES=1) but ${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`,
    );
  }
  return undefined;
}

/** Flags for Chromium in a container, headless, without talking to Google. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
];

/**
 * Not sources: the build itself, installed packages, dotfiles (as deploy/web/ensure-built.ts),
 * and these tests (not part of the build).
 */
const NOT_SOURCES = new Set(["dist", "node_modules", "test"]);

function newestChange(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || NOT_SOURCES.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(
      newest,
      entry.isDirectory() ? newestChange(full) : entry.isFile() ? statSync(full).mtimeMs : 0,
    );
  }
  return newest;
}

/**
 * Builds services/web into dist/ (`npm run build -w @taskflow/web`) when the build is missing
 * or older than a source, as `npm start` does; says which.
 */
export async function ensureWebBuilt(): Promise<"up to date" | "built"> {
  const index = path.join(distDir, "index.html");
  if (existsSync(index) && statSync(index).mtimeMs >= newestChange(webDir)) return "up to date";
  try {
    await run("npm", ["run", "build", "-w", "@taskflow/web"], {
      cwd: repoRoot,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm run build -w @taskflow/web failed:\n${stdout}${stderr}`);
  }
  if (!existsSync(index)) throw new Error("the web build wrote no services/web/dist/index.html");
  return "built";
}

async function deleteRedisKeys(pattern: string): Promise<void> {
  const redis = new Redis(testEngines.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    const keys = await redis.keys(pattern);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/**
 * nginx on a free port, and sure to be this nginx: a port free when chosen can be taken before
 * nginx binds it, and whatever took it may answer /healthz too (every taskflow role does).
 */
async function startOwnNginx(
  nginx: string,
  options: { upstreams: string[]; root: string },
): Promise<NginxRun> {
  for (let attempt = 1; ; attempt++) {
    const proxy = await startNginx(nginx, { ...options, port: await freePort() }).catch(
      (error: Error) => error,
    );
    if (!(proxy instanceof Error)) {
      const answer = await fetch(`${proxy.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      await answer.arrayBuffer();
      if (
        answer.headers.get("server") === "nginx" &&
        !/Address already in use/.test(proxy.output())
      )
        return proxy;
      await proxy.stop();
    }
    if (attempt === 3) {
      throw proxy instanceof Error ? proxy : new Error("nginx could not have a port of its own");
    }
  }
}

const ROLES = ["validator", "api", "relay", "worker", "notifier", "mailer", "analytics"] as const;
export type StackRole = (typeof ROLES)[number];

/** Connections per role: a handful each, so parallel runs fit PostgreSQL's 100. */
const POOL: Record<StackRole, string> = {
  validator: "3",
  api: "8",
  relay: "3",
  worker: "4",
  notifier: "3",
  mailer: "3",
  analytics: "3",
};

export interface BrowserStack {
  /** nginx: where the browser goes. */
  url: string;
  env: ChildEnv;
  roles: Record<StackRole, RoleProcess>;
  nginx: NginxRun;
  /** An operator (TASKFLOW_ADMIN_EMAILS), made with `taskflow user create`. */
  operator: Credentials;
  notes: string[];
  /** The tail of every process's output and nginx's logs, for a failure's message. */
  diagnose(): string;
  /** Stops nginx and every role, drops the database, the vhost (or queue) and the job keys. */
  cleanup(): Promise<void>;
}

/**
 * The whole system as a browser meets it: a migrated database, a RabbitMQ vhost, a job queue
 * on Redis; validator, api (TASKFLOW_WEB_DIR: `webRoot`), relay, worker, notifier, mailer
 * (the embedded mail sink) and analytics, each a process; an operator account; nginx in front
 * on a port of its own, serving `webRoot` and proxying /api to the api.
 */
export async function openBrowserStack(options: {
  nginx: string;
  webRoot: string;
}): Promise<BrowserStack> {
  const notes: string[] = [];
  const undo: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    const failures: unknown[] = [];
    for (const step of undo.reverse()) await step().catch((error) => failures.push(error));
    undo.length = 0;
    if (failures.length > 0) throw new AggregateError(failures, "browser stack cleanup failed");
  };
  const started: Partial<Record<StackRole, RoleProcess>> = {};
  let nginx: NginxRun | undefined;

  try {
    const taskQueue = uniqueName("e2e.web.tasks");
    const jobQueue = uniqueName("e2e.web.jobs");
    const [database, rabbit] = await Promise.all([
      createTestDatabase("taskflow_web_e2e").then((db: TestDatabase) => {
        undo.push(() => db.drop());
        return db;
      }),
      openRabbitMqVhost("taskflow_web_e2e", () => deleteRabbitMqQueue(taskQueue)).then((site) => {
        undo.push(() => site.cleanup());
        return site;
      }),
      freshTaskflowBundle("web-bundle").then((drop) => undo.push(drop)),
    ]);
    if (rabbit.note) notes.push(rabbit.note);
    undo.push(() => deleteRedisKeys(`*${jobQueue}*`));

    const operator = newCredentials("operator");
    const env: ChildEnv = {
      TASKFLOW_DATABASE_URL: database.url,
      TASKFLOW_AMQP_URL: rabbit.url,
      TASKFLOW_TASK_QUEUE: taskQueue,
      TASKFLOW_REDIS_URL: testEngines.redisUrl,
      TASKFLOW_JOB_QUEUE: jobQueue,
      // Unset: the embedded mail sink (GET /api/dev/mail) and the embedded event stream.
      TASKFLOW_SMTP_URL: undefined,
      TASKFLOW_STREAM_URL: undefined,
      TASKFLOW_JWT_SECRET: randomBytes(32).toString("base64url"),
      TASKFLOW_ADMIN_EMAILS: operator.email,
      TASKFLOW_TRUST_PROXY: "true",
      TASKFLOW_LOG_LEVEL: "warn",
      TASKFLOW_SHUTDOWN_TIMEOUT_MS: "5000",
    };
    await runMigrations(env);

    // The validator's port is chosen now, so the API (which dials it lazily) starts beside it.
    const validatorPort = await freePort();
    env.TASKFLOW_VALIDATOR_URL = `127.0.0.1:${validatorPort}`;

    // Every role at once, and the operator's account.
    undo.push(() =>
      Promise.all(
        Object.values(started).map((process) =>
          process.stop("SIGTERM", 15_000).catch(() => process.kill()),
        ),
      ),
    );
    const start = async (role: StackRole) => {
      const process = await startRole(
        role as TaskflowRole,
        {
          ...env,
          TASKFLOW_DB_POOL_SIZE: POOL[role],
          ...(role === "api" ? { TASKFLOW_WEB_DIR: options.webRoot } : {}),
        },
        { readyTimeoutMs: 120_000, ...(role === "validator" ? { port: validatorPort } : {}) },
      );
      started[role] = process;
      return process;
    };
    const [created] = await Promise.all([
      runTaskflow(["user", "create", operator.email, "Olga Operator"], env, {
        input: `${operator.password}\n`,
        timeoutMs: 120_000,
      }),
      ...ROLES.map(start),
    ]);
    if (created.code !== 0) {
      throw new Error(`taskflow user create failed (${created.code}): ${created.stderr}`);
    }

    nginx = await startOwnNginx(options.nginx, {
      upstreams: [(started.api as RoleProcess).address],
      root: options.webRoot,
    });
    const proxy = nginx;
    undo.push(() => proxy.stop());

    return {
      url: nginx.url,
      env,
      roles: started as Record<StackRole, RoleProcess>,
      nginx,
      operator,
      notes,
      diagnose: () =>
        [
          ...Object.entries(started).map(
            ([role, process]) =>
              `--- ${role} (pid ${process?.pid}):\n${process?.output().slice(-3_000)}`,
          ),
          `--- nginx:\n${proxy.output().slice(-6_000)}`,
        ].join("\n"),
      cleanup,
    };
  } catch (error) {
    const said = Object.entries(started)
      .map(([role, process]) => `--- ${role}:\n${process?.output().slice(-2_000)}`)
      .join("\n");
    await cleanup().catch(() => {});
    if (said) (error as Error).message += `\n${said}`;
    throw error;
  }
}

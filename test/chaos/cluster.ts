import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  type ApiClient,
  type ChildEnv,
  freshTaskflowBundle,
  type RoleProcess,
  repoRoot,
  runMigrations,
  signUp,
  startRole,
  testPool,
} from "@taskflow/testing";
import {
  type ChaosPostgres,
  type ChaosRabbitMq,
  type ChaosReport,
  check,
  type EffectsLedger,
  type FaultProxy,
  formatReports,
  Ledger,
  settle,
  startEffectsLedger,
  startFaultProxy,
  startPostgres,
  startRabbitMq,
  startTaskLoad,
} from "@taskflow/testing/chaos";
import type pg from "pg";
import { expect } from "vitest";

export const TASK_QUEUE = "chaos.tasks";
export const TASKS_TOPIC = "tasks";

/**
 * One TaskFlow deployment on engines of the suite's own: PostgreSQL and RabbitMQ as child
 * processes (RabbitMQ reached through a fault proxy), the effects ledger, and TaskFlow's
 * roles as `taskflow <role>` processes run from a fresh bundle of the sources.
 */
export interface Cluster {
  pg: ChaosPostgres;
  rabbit: ChaosRabbitMq;
  /** Between every role and RabbitMQ. */
  proxy: FaultProxy;
  effects: EffectsLedger;
  env: ChildEnv;
  sql: pg.Pool;
  api: RoleProcess;
  relay: RoleProcess | undefined;
  workers: RoleProcess[];
  reports: ChaosReport[];
  startWorker(extra?: ChildEnv): Promise<RoleProcess>;
  startRelay(extra?: ChildEnv): Promise<RoleProcess>;
  /** Kills every worker (SIGKILL). */
  killWorkers(): Promise<void>;
  startControl(name: "ack-first-worker" | "unconfirmed-relay"): Promise<ControlProcess>;
  /** Waits for a role process started with a failpoint to kill itself. */
  close(): Promise<void>;
}

export interface ControlProcess {
  pid: number;
  kill(): Promise<void>;
}

export interface ClusterOptions {
  /**
   * Runs once the database is migrated, before any role starts: starts what the scenarios
   * add (Redis, an SMTP sink, the validator…) and answers the variables every role gets too.
   */
  prepare?: (env: ChildEnv) => Promise<ChildEnv>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const undoBundle = await freshTaskflowBundle("chaos");
  const [pgEngine, rabbit, effects] = await Promise.all([
    startPostgres(),
    startRabbitMq(),
    startEffectsLedger(),
  ]);
  const proxy = await startFaultProxy({ port: rabbit.port });
  const env: ChildEnv = {
    TASKFLOW_DATABASE_URL: pgEngine.url,
    TASKFLOW_AMQP_URL: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
    TASKFLOW_TASK_QUEUE: TASK_QUEUE,
    TASKFLOW_JWT_SECRET: randomBytes(32).toString("base64url"),
    TASKFLOW_LOG_LEVEL: "warn",
    TASKFLOW_LOGIN_RATE_LIMIT: "100000",
    TASKFLOW_LOGIN_RATE_LIMIT_PER_ADDRESS: "100000",
    TASKFLOW_TASK_RATE_LIMIT: "1000000",
    TASKFLOW_RETRY_BASE_MS: "200",
    TASKFLOW_RETRY_MAX_MS: "2000",
    TASKFLOW_SHUTDOWN_TIMEOUT_MS: "10000",
    TASKFLOW_DB_POOL_SIZE: "5",
    TASKFLOW_CHAOS_EFFECT_URL: effects.url,
  };
  await runMigrations(env);
  if (options.prepare) Object.assign(env, await options.prepare(env));
  const sql = testPool(pgEngine.url, 3);
  const controls = new Set<ChildProcess>();
  const cluster: Cluster = {
    pg: pgEngine,
    rabbit,
    proxy,
    effects,
    env,
    sql,
    api: undefined as unknown as RoleProcess,
    relay: undefined,
    workers: [],
    reports: [],
    async startWorker(extra = {}) {
      const worker = await startRole("worker", {
        ...env,
        TASKFLOW_WORKER_CONCURRENCY: "32",
        ...extra,
      });
      cluster.workers.push(worker);
      void worker.exited.then(() => {
        cluster.workers = cluster.workers.filter((w) => w !== worker);
      });
      return worker;
    },
    async startRelay(extra = {}) {
      const relay = await startRole("relay", { ...env, ...extra });
      cluster.relay = relay;
      void relay.exited.then(() => {
        if (cluster.relay === relay) cluster.relay = undefined;
      });
      return relay;
    },
    async killWorkers() {
      await Promise.all(cluster.workers.map((w) => w.kill()));
      cluster.workers = [];
    },
    async startControl(name) {
      const base: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("TASKFLOW_")) base[k] = v;
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "test/chaos/control-roles.ts", name],
        {
          cwd: repoRoot,
          env: { ...base, ...env, TASKFLOW_PORT: "0" },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      controls.add(child);
      let output = "";
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      await new Promise<void>((resolve, reject) => {
        child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
          output += chunk;
          if (output.includes("control ready")) resolve();
        });
        child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
          output += chunk;
        });
        void exited.then(() => reject(new Error(`control ${name} exited:\n${output}`)));
      });
      return {
        pid: child.pid ?? 0,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exited;
          controls.delete(child);
        },
      };
    },
    async close() {
      for (const c of controls) c.kill("SIGKILL");
      const roles = [cluster.api, cluster.relay, ...cluster.workers].filter(
        (r): r is RoleProcess => r !== undefined,
      );
      await Promise.all(roles.map((r) => r.kill()));
      await sql.end().catch(() => {});
      await proxy.close();
      await effects.close();
      await Promise.all([pgEngine.destroy(), rabbit.destroy()]);
      await undoBundle();
      console.info(`\nchaos suite:\n${formatReports(cluster.reports)}\n`);
    },
  };
  cluster.api = await startRole("api", env);
  await Promise.all([cluster.startRelay(), cluster.startWorker(), cluster.startWorker()]);
  return cluster;
}

export interface ScenarioOptions {
  /** Requests in flight at once (default 6). */
  concurrency?: number;
  /** Milliseconds each chaos.effect task waits before its effect (default 300). */
  taskMs?: number;
  /** How long to wait for the system to settle once the faults stop (default 120 s). */
  settleTimeoutMs?: number;
  /** The API to load (default the cluster's). */
  apiUrl?: string;
}

/**
 * A scenario: a new user submits chaos.effect tasks while `faults` runs; then the load
 * stops, the system settles, and the checker's report is printed and returned.
 */
export async function runScenario(
  cluster: Cluster,
  scenario: string,
  faults: (context: { client: ApiClient; ledger: Ledger }) => Promise<void>,
  options: ScenarioOptions = {},
): Promise<ChaosReport> {
  const { client, userId } = await signUp(options.apiUrl ?? cluster.api.url);
  const ledger = new Ledger();
  const load = startTaskLoad({
    client,
    ledger,
    prefix: scenario.replace(/\W+/g, "-"),
    concurrency: options.concurrency ?? 6,
    pauseMs: 20,
    task: () => ({
      type: "chaos.effect",
      payload: { ms: options.taskMs ?? 300 },
      max_attempts: 10,
    }),
  });
  try {
    await faults({ client, ledger });
  } finally {
    await load.stop();
  }
  return settleAndReport(cluster, {
    scenario,
    userId,
    ledger,
    since: Date.now(),
    ...(options.settleTimeoutMs !== undefined && { settleTimeoutMs: options.settleTimeoutMs }),
  });
}

/**
 * Waits for `userId`'s tasks to settle after `since` (the faults' end), checks them against
 * the ledger, keeps the report for the suite's summary and prints it — with what the
 * unfinished tasks and the roles said when something is lost or stuck.
 */
export async function settleAndReport(
  cluster: Cluster,
  run: {
    scenario: string;
    userId: string;
    ledger: Ledger;
    since: number;
    settleTimeoutMs?: number;
  },
): Promise<ChaosReport> {
  const { scenario, userId, ledger } = run;
  const recovery = await settle(cluster.sql, userId, run.since, run.settleTimeoutMs ?? 120_000);
  const report = await check({
    scenario,
    sql: cluster.sql,
    ownerId: userId,
    ledger,
    effects: cluster.effects.effects,
    tasksTopic: TASKS_TOPIC,
    recoverySeconds: recovery,
  });
  cluster.reports.push(report);
  if (report.stuck > 0 || report.lost > 0) {
    // What the unfinished tasks look like, and what the roles said: the first clue of a bug.
    const { rows } = await cluster.sql.query(
      `SELECT status, attempts, count(*)::int AS n FROM tasks WHERE owner_id = $1
        AND status <> 'DONE' GROUP BY 1, 2 ORDER BY 1, 2`,
      [userId],
    );
    const outbox = await cluster.sql.query(
      "SELECT destination, count(*)::int AS n FROM outbox GROUP BY 1",
    );
    console.info("not DONE:", rows, "outbox:", outbox.rows);
    for (const role of [cluster.api, cluster.relay, ...cluster.workers]) {
      if (role) console.info(`--- ${role.role} ${role.pid}:\n${role.output().slice(-3_000)}`);
    }
  }
  console.info(`\n${formatReports([report])}\n`);
  return report;
}

/** The pass of every scenario: nothing lost, nothing done twice, nothing stuck or unexpected. */
export function expectClean(report: ChaosReport): void {
  expect({
    lost: report.lost,
    duplicated: report.duplicated,
    stuck: report.stuck,
    unexpected: report.unexpected,
  }).toEqual({ lost: 0, duplicated: 0, stuck: 0, unexpected: 0 });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a process armed with a failpoint and waits (at most `withinMs`) for it to SIGKILL
 * itself there. With work waiting, that can come before it answers ready: `start` then
 * rejects, and that counts. One that never gets there is killed: false.
 */
export async function diesAtFailpoint(
  start: () => Promise<RoleProcess>,
  withinMs = 30_000,
): Promise<boolean> {
  let armed: RoleProcess;
  try {
    armed = await start();
  } catch (error) {
    if (/signal SIGKILL/.test(String(error))) return true;
    throw error;
  }
  const exit = await Promise.race([armed.exited, sleep(withinMs).then(() => undefined)]);
  if (exit?.signal === "SIGKILL") return true;
  await armed.kill();
  return false;
}

/**
 * `npm run bench`: submits N tasks over HTTP with concurrency C, waits until all are DONE and
 * reports accepted/s, end-to-end tasks/s, POST and time-to-DONE percentiles, lost tasks, each
 * process's peak RSS and CPU seconds, and — measured in the same run — the raw RabbitMQ,
 * PostgreSQL and node:http rates with the ratios. See bench/README.md.
 */

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildBundle } from "../packages/cli/scripts/build.ts";
import { NODE_FLAGS } from "../packages/cli/scripts/node-flags.ts";
import { type Child, runToEnd, spawnChild, stopAll, stopChild, waitReady } from "./lib/children.ts";
import {
  adminQuery,
  checkPostgres,
  checkRabbitMq,
  createDatabase,
  databaseUrl,
  deleteTaskQueues,
  dropDatabase,
  withDatabase,
} from "./lib/engines.ts";
import {
  type ClientKind,
  createPoster,
  type DriveResult,
  drive,
  EventWatcher,
  jsonRequest,
  type LatencySlice,
  latencySlices,
} from "./lib/http-client.ts";
import {
  type GroupFigures,
  type MachineFigures,
  type ProcessFigures,
  ProcSampler,
} from "./lib/procstat.ts";
import { waitQuiet } from "./lib/quiet.ts";
import {
  type AmqpRate,
  type HttpRate,
  measureAmqp,
  measureHttp,
  nodeInsertRate,
  PGBENCH_SCRIPTS,
  type PgRate,
  pgbench,
  RAW_TABLES_SQL,
} from "./lib/raw.ts";
import { childEnv, medianRange, positiveOption, printJson, processTable } from "./lib/report.ts";
import {
  assertLoopback,
  dec,
  errorMessage,
  freePorts,
  int,
  mb,
  pad,
  padLeft,
  randomHex,
  randomSecret,
  type Summary,
  sleep,
  summarize,
} from "./lib/util.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// What production runs: the bundled program, rebuilt from the sources at the start of each bench.
let CLI = "";

const TARGET = { e2e: 2_000, e2eAt: 64, postP99Ms: 25, postP99At: 32, rssMb: 200 } as const;

type Mode = "real" | "embedded";
type Watch = "sse" | "poll";

interface Options {
  modes: Mode[];
  n: number;
  concurrencies: number[];
  handler: { name: string; type: string; payload: unknown };
  skipRaw: boolean;
  json: boolean;
  repeat: number;
  client: ClientKind;
  watch: Watch;
  rawSeconds: number;
  pgClients: number;
  profile: string[];
  keep: boolean;
  pgUrl: string;
  amqpUrl: string;
  workerConcurrency: number | undefined;
  /** TASKFLOW_NICE of the relay and the worker (real mode). */
  nice: number;
  waitQuiet: number;
  warmup: number;
}

const HELP = `Usage: npm run bench -- [options]

  --mode real|embedded|both   which engines (default real)
  --n N                       tasks per run (default 20000: see bench/README.md)
  --concurrency C[,C...]      concurrent HTTP clients, a list runs each (default 64)
  --handler sleep0            task: sleepN = sleep {ms:N}, echo = echo {} (default sleep0)
  --repeat R                  repeat everything R times; the summary gives median and range (default 1)
  --skip-raw                  do not measure the raw engine rates
  --raw-seconds S             length of each raw measurement (default 3)
  --client undici|http|fetch  load generator: an undici Pool, node:http keep-alive agent, or
                              global fetch (default undici: the cheapest on the shared cores)
  --watch sse|poll            completion from GET /api/events (default), or from counters + SQL only
  --worker-concurrency K      TASKFLOW_WORKER_CONCURRENCY for the worker (default: TaskFlow's own)
  --nice N                    TASKFLOW_NICE of the relay and the worker (real mode; default 10, as
                              deploy/compose runs them: background roles yield the cores to the
                              API; 0 = all at the same priority)
  --profile api,relay,worker  write V8 CPU profiles of those processes (node --cpu-prof)
  --warmup W                  before each measurement, W tasks from another user, driven the same
                              way and waited for until DONE, so that the figures are those of
                              warm processes (JIT, pools, caches); reported on their own line
                              (default 3000, 0 = measure from a cold start)
  --wait-quiet S              before each measurement, wait up to S s for other processes to go
                              quiet (the machine is shared; default 60, 0 = do not wait)
  --keep                      keep the temporary folder (logs, profiles) of each run
  --pg-url URL                PostgreSQL admin URL (default postgres://postgres@127.0.0.1:5432/postgres)
  --amqp-url URL              RabbitMQ URL (default amqp://guest:guest@127.0.0.1:5672)
  --json                      also print every figure as one JSON block
`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      mode: { type: "string", default: "real" },
      n: { type: "string", default: "20000" },
      concurrency: { type: "string", default: "64" },
      handler: { type: "string", default: "sleep0" },
      repeat: { type: "string", default: "1" },
      "skip-raw": { type: "boolean", default: false },
      "raw-seconds": { type: "string", default: "3" },
      "pg-clients": { type: "string", default: "8" },
      client: { type: "string", default: "undici" },
      watch: { type: "string", default: "sse" },
      "worker-concurrency": { type: "string" },
      nice: { type: "string", default: "10" },
      profile: { type: "string", default: "" },
      keep: { type: "boolean", default: false },
      "wait-quiet": { type: "string", default: "60" },
      warmup: { type: "string", default: "3000" },
      "pg-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
      "amqp-url": { type: "string", default: "amqp://guest:guest@127.0.0.1:5672" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const positive = positiveOption;
  const modes: Mode[] =
    values.mode === "both"
      ? ["real", "embedded"]
      : values.mode === "real" || values.mode === "embedded"
        ? [values.mode]
        : [];
  if (modes.length === 0) throw new Error("--mode must be real, embedded or both");
  const concurrencies = values.concurrency.split(",").map((c) => positive("concurrency", c.trim()));
  const handlerMatch = /^(sleep)(\d+)$|^(echo)$/.exec(values.handler);
  if (!handlerMatch) throw new Error("--handler must be sleepN (e.g. sleep0) or echo");
  const handler = handlerMatch[1]
    ? {
        name: `sleep{ms:${Number(handlerMatch[2])}}`,
        type: "sleep",
        payload: { ms: Number(handlerMatch[2]) },
      }
    : { name: "echo{}", type: "echo", payload: {} };
  if (!["undici", "http", "fetch"].includes(values.client))
    throw new Error("--client must be undici, http or fetch");
  if (values.watch !== "sse" && values.watch !== "poll")
    throw new Error("--watch must be sse or poll");
  const profile = values.profile
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of profile) {
    if (!["api", "relay", "worker", "taskflow"].includes(p))
      throw new Error("--profile takes api, relay, worker (real mode) or taskflow (embedded)");
  }
  assertLoopback(values["pg-url"], "--pg-url");
  assertLoopback(values["amqp-url"], "--amqp-url");
  return {
    modes,
    n: positive("n", values.n),
    concurrencies,
    handler,
    skipRaw: values["skip-raw"],
    json: values.json,
    repeat: positive("repeat", values.repeat),
    client: values.client as ClientKind,
    watch: values.watch,
    rawSeconds: positive("raw-seconds", values["raw-seconds"]),
    pgClients: positive("pg-clients", values["pg-clients"]),
    profile,
    keep: values.keep,
    pgUrl: values["pg-url"],
    amqpUrl: values["amqp-url"],
    workerConcurrency:
      values["worker-concurrency"] === undefined
        ? undefined
        : positive("worker-concurrency", values["worker-concurrency"]),
    nice: niceOption(values.nice),
    waitQuiet: Number(values["wait-quiet"]) || 0,
    warmup: values.warmup === "0" ? 0 : positive("warmup", values.warmup),
  };
}

function niceOption(value: string): number {
  const nice = Number(value);
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new Error("--nice must be 0 … 19");
  return nice;
}

// ---------------------------------------------------------------------------------------------
// Clean-up: every resource a run creates registers its undo here; it runs in reverse order at
// the end of the run, on an error, or on SIGINT/SIGTERM.

const cleanups: { what: string; undo: () => Promise<void> }[] = [];

function onCleanup(what: string, undo: () => Promise<void>): void {
  cleanups.push({ what, undo });
}

async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    const step = cleanups.pop();
    if (!step) break;
    try {
      await step.undo();
    } catch (error) {
      console.error(`clean-up: ${step.what}: ${errorMessage(error)}`);
    }
  }
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${signal}: stopping the processes and removing the bench database/queues…`);
    const hardStop = setTimeout(() => process.exit(130), 20_000);
    hardStop.unref();
    void stopAll()
      .then(cleanUp)
      .finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------
// Raw engine rates

interface RawFigures {
  repetition: number;
  amqp: AmqpRate[];
  pg: PgRate[];
  http: HttpRate[];
  errors: string[];
  seconds: number;
}

async function measureRaw(options: Options, repetition: number): Promise<RawFigures> {
  const started = performance.now();
  const raw: RawFigures = { repetition, amqp: [], pg: [], http: [], errors: [], seconds: 0 };
  const work = mkdtempSync(path.join(os.tmpdir(), "taskflow-bench-raw-"));
  const note = (what: string, error: unknown) => {
    raw.errors.push(`${what}: ${errorMessage(error)}`);
  };
  console.log(
    `raw engine rates (repetition ${repetition}, ${options.rawSeconds} s each, before the pipeline runs)…`,
  );
  try {
    for (const queueType of ["classic", "quorum"] as const) {
      try {
        raw.amqp.push(
          await measureAmqp({ url: options.amqpUrl, queueType, seconds: options.rawSeconds }),
        );
      } catch (error) {
        note(`R_amqp(${queueType})`, error);
      }
    }
    const dbName = `bench_raw_${process.pid}_${randomHex(4)}`;
    try {
      const url = await createDatabase(options.pgUrl, dbName);
      onCleanup(`drop database ${dbName}`, () => dropDatabase(options.pgUrl, dbName));
      await withDatabase(url, async (c) => {
        await c.query(RAW_TABLES_SQL);
        await c.query("VACUUM ANALYZE");
      });
      const havePgbench = await runToEnd("pgbench --version", "pgbench", ["--version"], {
        env: process.env,
        cwd: work,
        logFile: path.join(work, "pgbench-version.log"),
        timeoutMs: 5_000,
      }).then(
        () => true,
        () => false,
      );
      for (const [name, script] of Object.entries(PGBENCH_SCRIPTS)) {
        try {
          if (havePgbench) {
            raw.pg.push(
              await pgbench({
                url,
                name,
                script,
                clients: options.pgClients,
                seconds: options.rawSeconds,
                workDir: work,
              }),
            );
          } else if (name === "R_pg1") {
            raw.pg.push(
              await nodeInsertRate({
                url,
                clients: options.pgClients,
                seconds: options.rawSeconds,
              }),
            );
          }
        } catch (error) {
          note(name, error);
        }
      }
    } catch (error) {
      note("PostgreSQL raw rates", error);
    } finally {
      await cleanUpLast(`drop database ${dbName}`);
    }
    for (const concurrency of options.concurrencies) {
      try {
        raw.http.push(
          await measureHttp({
            concurrency,
            client: options.client,
            seconds: options.rawSeconds,
            root: ROOT,
            logFile: path.join(work, "hello-server.log"),
          }),
        );
      } catch (error) {
        note(`R_http(c=${concurrency})`, error);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  raw.seconds = (performance.now() - started) / 1000;
  return raw;
}

/** Runs and forgets the most recent clean-up step if it is `what`. */
async function cleanUpLast(what: string): Promise<void> {
  const last = cleanups.at(-1);
  if (last?.what !== what) return;
  cleanups.pop();
  try {
    await last.undo();
  } catch (error) {
    console.error(`clean-up: ${what}: ${errorMessage(error)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// One pipeline run

interface RunFigures {
  mode: Mode;
  repetition: number;
  n: number;
  concurrency: number;
  handler: string;
  client: ClientKind;
  watch: Watch;
  /** The relay's and the worker's nice value (real mode). */
  nice: number | undefined;
  accepted: number;
  failed: number;
  failures: Record<string, number>;
  failureSamples: string[];
  acceptedPerSecond: number;
  e2ePerSecond: number;
  /** accepted − DONE at the end (SQL count in real mode, the stats counters otherwise). */
  lost: number;
  done: { sql: number | undefined; counters: number; events: number | undefined };
  otherStatuses: Record<string, number>;
  post: Summary;
  /** POST latency by second of the measurement (by request start). */
  postBySecond: LatencySlice[];
  timeToDone: Summary;
  secondsToLast202: number;
  secondsToLastDone: number;
  timedOut: boolean;
  processes: ProcessFigures[];
  engines: GroupFigures[];
  machine: MachineFigures;
  /** From the tasks table: last finished_at − first created_at (server clocks). */
  sqlSpanSeconds: number | undefined;
  /** Mean items per group commit, by what was written (from the processes' /metrics). */
  batches: Record<string, { mean: number; count: number }>;
  /** The run's database activity during the load (pg_stat_database), real mode only. */
  pgActivity: PgActivity | undefined;
  /**
   * PostgreSQL's CPU seconds in the window per client (application_name: taskflow-api,
   * taskflow-relay …) or background process (walwriter, autovacuum worker …), real mode only.
   */
  pgCpuByClient: Record<string, number> | undefined;
  startupSeconds: number;
  warmup: WarmupFigures | undefined;
  profiles: string | undefined;
  notes: string[];
}

/** The warm-up before the measurement: what a cold pipeline answers. */
interface WarmupFigures {
  n: number;
  accepted: number;
  acceptedPerSecond: number;
  post: Summary;
  /** First POST to the last of its tasks DONE (the counters, polled every 50 ms). */
  secondsToAllDone: number | undefined;
  /** How long the VACUUM (ANALYZE) after it took (real mode). */
  analyzeSeconds?: number;
}

interface PgActivity {
  transactions: number;
  inserted: number;
  updated: number;
  deleted: number;
}

/** Cumulative counters of one database; the statistics collector lags up to a second. */
/** Mean group-commit batch sizes a process reports on /metrics. */
async function groupCommitBatches(
  port: number,
): Promise<Record<string, { mean: number; count: number }>> {
  const answer = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
  if (!answer?.ok) {
    console.log(`  (no /metrics on port ${port}: ${answer?.status})`);
    return {};
  }
  const text = await answer.text();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(
    /^taskflow_group_commit_batch_size_(sum|count)\{[^}]*batch="([^"]+)"[^}]*\} (\S+)$/gm,
  )) {
    (m[1] === "sum" ? sums : counts).set(m[2] as string, Number(m[3]));
  }
  const batches: Record<string, { mean: number; count: number }> = {};
  for (const [batch, count] of counts) {
    if (count > 0) batches[batch] = { mean: (sums.get(batch) ?? 0) / count, count };
  }
  return batches;
}

/**
 * Splits the window's PostgreSQL CPU by who a process served: a session's application_name
 * (each TaskFlow role names its own), else the background process's type. A backend that
 * ended inside the window is missed; one without a name is this benchmark's own.
 */
async function postgresCpuByClient(
  dbUrl: string,
  sampler: ProcSampler,
): Promise<Record<string, number>> {
  const names = await withDatabase(dbUrl, async (c) => {
    const { rows } = await c.query<{ pid: number; who: string }>(
      `SELECT pid, coalesce(nullif(application_name, ''),
                            CASE WHEN backend_type = 'client backend' THEN 'bench' ELSE backend_type END) AS who
       FROM pg_stat_activity`,
    );
    return new Map(rows.map((r) => [r.pid, r.who]));
  }).catch((error: unknown) => {
    console.log(
      `  (pg_stat_activity unreadable, PostgreSQL CPU not split: ${errorMessage(error)})`,
    );
    return new Map<number, string>();
  });
  const byClient: Record<string, number> = {};
  for (const [pid, seconds] of sampler.groupCpuByPid("postgres")) {
    const who = names.get(pid) ?? "postmaster or ended";
    byClient[who] = (byClient[who] ?? 0) + seconds;
  }
  return byClient;
}

async function pgActivity(dbUrl: string): Promise<PgActivity> {
  return withDatabase(dbUrl, async (c) => {
    const { rows } = await c.query<Record<keyof PgActivity, string>>(
      `SELECT xact_commit + xact_rollback AS transactions, tup_inserted AS inserted,
              tup_updated AS updated, tup_deleted AS deleted
       FROM pg_stat_database WHERE datname = current_database()`,
    );
    const row = rows[0];
    return {
      transactions: Number(row?.transactions ?? 0),
      inserted: Number(row?.inserted ?? 0),
      updated: Number(row?.updated ?? 0),
      deleted: Number(row?.deleted ?? 0),
    };
  });
}

/** Registers and logs in a fresh user. */
async function signUp(port: number): Promise<{ id: string; token: string }> {
  const email = `bench-${randomHex(6)}@example.com`;
  const password = randomSecret(24);
  const registered = await jsonRequest<{ id: string }>(port, "POST", "/api/auth/register", {
    body: { email, password, name: "bench" },
  });
  if (registered.status !== 201)
    throw new Error(`register answered ${registered.status}: ${JSON.stringify(registered.body)}`);
  const login = await jsonRequest<{ access_token: string }>(port, "POST", "/api/auth/login", {
    body: { email, password },
  });
  if (login.status !== 200 || !login.body.access_token)
    throw new Error(`login answered ${login.status}: ${JSON.stringify(login.body)}`);
  return { id: registered.body.id, token: login.body.access_token };
}

/** The request every client sends: POST /api/tasks with the run's handler. */
function taskPost(port: number, token: string, handler: Options["handler"]) {
  return {
    port,
    path: "/api/tasks",
    headers: { authorization: `Bearer ${token}` },
    body: Buffer.from(JSON.stringify({ type: handler.type, payload: handler.payload })),
  };
}

/** The caller's tasks by status (GET /api/tasks/stats: the running counters). */
async function taskCounts(port: number, token: string): Promise<Record<string, number>> {
  const answer = await jsonRequest<Record<string, number>>(port, "GET", "/api/tasks/stats", {
    token,
  });
  if (answer.status !== 200) throw new Error(`GET /api/tasks/stats answered ${answer.status}`);
  return answer.body;
}

/**
 * Drives `options.warmup` tasks through the pipeline the way the measurement will, and waits
 * until they are DONE: the measurement then sees processes as a server that has been running
 * has them (hot paths compiled by the JIT, pools open, PostgreSQL's caches filled), as
 * benchmarks of servers do (TechEmpower's warm-up, JMH's warm-up iterations). Its own figures
 * are those of a cold start, and are printed.
 */
async function warmUp(
  options: Options,
  port: number,
  token: string,
  concurrency: number,
): Promise<WarmupFigures> {
  const poster = createPoster(options.client, taskPost(port, token, options.handler), concurrency);
  const driven = await drive({
    send: poster.send,
    concurrency,
    n: options.warmup,
    expectStatus: 202,
    parseId: false,
  });
  poster.close();
  const deadline = performance.now() + (60 + options.warmup / 500) * 1000;
  let secondsToAllDone: number | undefined;
  while (performance.now() < deadline) {
    const counts = await taskCounts(port, token);
    if ((counts.DONE ?? 0) >= driven.ok) {
      secondsToAllDone = (performance.now() - driven.firstStart) / 1000;
      break;
    }
    await sleep(50);
  }
  return {
    n: options.warmup,
    accepted: driven.ok,
    acceptedPerSecond: driven.ok / ((driven.lastOk - driven.firstStart) / 1000),
    post: summarize(driven.okLatencies),
    secondsToAllDone,
  };
}

async function runPipeline(
  options: Options,
  mode: Mode,
  concurrency: number,
  repetition: number,
): Promise<RunFigures> {
  const work = mkdtempSync(path.join(os.tmpdir(), `taskflow-bench-${mode}-`));
  const logs = path.join(work, "logs");
  mkdirSync(logs);
  const profileDir = path.join(work, "profiles");
  const notes: string[] = [];
  const depth = cleanups.length;
  if (!options.keep) {
    onCleanup(`remove ${work}`, async () => rmSync(work, { recursive: true, force: true }));
  }
  const sampler = new ProcSampler(200);
  let watcher: EventWatcher | undefined;
  const startupStarted = performance.now();
  try {
    const env = childEnv({
      NODE_ENV: "production",
      TASKFLOW_JWT_SECRET: randomSecret(48),
      TASKFLOW_JWT_TTL_SECONDS: "3600",
      TASKFLOW_LOG_LEVEL: "warn",
      TASKFLOW_LOGIN_RATE_LIMIT: "1000",
      // One user drives the whole load: its per-user submission budget must not be the limit.
      TASKFLOW_TASK_RATE_LIMIT: "1000000",
      TASKFLOW_DATA_DIR: path.join(work, "data"),
      ...(options.workerConcurrency
        ? { TASKFLOW_WORKER_CONCURRENCY: String(options.workerConcurrency) }
        : {}),
    });
    const roleEnv = (port: number): NodeJS.ProcessEnv => ({
      ...env,
      TASKFLOW_PORT: String(port),
    });
    // --cpu-prof is refused in NODE_OPTIONS: it goes on the command line.
    const nodeArgs = (role: string) =>
      options.profile.includes(role)
        ? ["--cpu-prof", `--cpu-prof-dir=${path.join(profileDir, role)}`]
        : [];
    const started: { role: string; child: Child; port: number }[] = [];
    const startRole = (
      role: string,
      command: string,
      port: number,
      roleSettings: NodeJS.ProcessEnv = {},
    ) => {
      const child = spawnChild(
        role,
        process.execPath,
        [...NODE_FLAGS, ...nodeArgs(role), CLI, command],
        {
          env: { ...roleEnv(port), ...roleSettings },
          cwd: ROOT,
          logFile: path.join(logs, `${role}.log`),
        },
      );
      onCleanup(`stop ${role}`, async () => {
        const how = await stopChild(child, 10_000);
        if (how === "killed") console.log(`  (${role} ignored SIGTERM for 10 s: SIGKILL)`);
        else if (how === "exited" && child.exitStatus !== 0)
          console.log(`  (${role} exited with ${child.exitStatus} after SIGTERM)`);
      });
      started.push({ role, child, port });
    };

    let dbUrl: string | undefined;
    if (mode === "real") {
      const dbName = `bench_${process.pid}_${randomHex(4)}`;
      const queue = `bench.${process.pid}.${randomHex(4)}`;
      dbUrl = await createDatabase(options.pgUrl, dbName);
      onCleanup(`drop database ${dbName}`, () => dropDatabase(options.pgUrl, dbName));
      onCleanup(`delete queues ${queue}*`, () => deleteTaskQueues(options.amqpUrl, queue));
      Object.assign(env, {
        TASKFLOW_DATABASE_URL: databaseUrl(options.pgUrl, dbName),
        TASKFLOW_AMQP_URL: options.amqpUrl,
        TASKFLOW_TASK_QUEUE: queue,
      });
      await runToEnd("migrate up", process.execPath, [CLI, "migrate", "up"], {
        env,
        cwd: ROOT,
        logFile: path.join(logs, "migrate.log"),
        timeoutMs: 90_000,
      });
      // A schema change to weigh in the whole pipeline before writing its migration.
      const whatIf = process.env.BENCH_SCHEMA_SQL;
      if (whatIf) {
        await adminQuery(dbUrl, whatIf);
        console.log(`schema changed by BENCH_SCHEMA_SQL: ${whatIf}`);
      }
      const [apiPort, relayPort, workerPort] = await freePorts(3);
      startRole("api", "api", apiPort as number);
      // Background roles yield the cores to the API (TASKFLOW_NICE), as deploy/compose runs them.
      const background = options.nice ? { TASKFLOW_NICE: String(options.nice) } : {};
      startRole("relay", "relay", relayPort as number, background);
      startRole("worker", "worker", workerPort as number, background);
    } else {
      const [port] = await freePorts(1);
      startRole("taskflow", "start", port as number);
    }
    await Promise.all(started.map((s) => waitReady(s.child, s.port)));
    const startupSeconds = (performance.now() - startupStarted) / 1000;
    const apiPort = started[0]?.port as number;
    for (const s of started) sampler.track(s.role, s.child.pid);
    sampler.track("bench", process.pid);
    sampler.start();

    // The measured user; the warm-up's tasks belong to another, so that its counters, its
    // event stream and its rows in the tasks table hold the measured tasks only.
    const user = await signUp(apiPort);
    const warmupToken = options.warmup ? (await signUp(apiPort)).token : undefined;
    const { token } = user;
    if (options.watch === "sse") {
      watcher = new EventWatcher();
      await watcher.open(apiPort, token);
    }
    const poster = createPoster(
      options.client,
      taskPost(apiPort, token, options.handler),
      concurrency,
    );
    const stats = () => taskCounts(apiPort, token);

    const busy = await waitQuiet(
      options.waitQuiet,
      started.map((x) => x.child.pid),
    );
    if (busy) notes.push(busy);
    // Idle: after readiness and login, before any load (idle RSS and idle CPU).
    sampler.markIdleStart();
    await sleep(2_000);
    sampler.markIdleEnd();
    // The warm-up, then (after the VACUUM below) the measurement: a server under steady load.
    const warmup = warmupToken
      ? await warmUp(options, apiPort, warmupToken, concurrency)
      : undefined;
    if (warmup && warmup.secondsToAllDone === undefined)
      notes.push(`warm-up: not all of its ${warmup.accepted} tasks DONE after the time limit`);
    // As autovacuum would have by now on a running system (and pgbench does before a run):
    // statistics for the tables the warm-up filled. It also makes PostgreSQL plan the
    // processes' prepared statements again; plans made on the empty tables scan `tasks`.
    if (warmup && dbUrl) {
      const started = performance.now();
      await adminQuery(dbUrl, "VACUUM (ANALYZE)");
      warmup.analyzeSeconds = (performance.now() - started) / 1000;
    }
    const pgBefore = dbUrl ? await pgActivity(dbUrl) : undefined;
    sampler.markWindowStart();
    const driven: DriveResult = await drive({
      send: poster.send,
      concurrency,
      n: options.n,
      expectStatus: 202,
      parseId: true,
    });
    poster.close();
    const accepted = driven.ok;

    // Completion: every accepted task DONE (events, else the counters), or the time limit.
    const deadline = performance.now() + (120 + options.n / 500) * 1000;
    let counters: Record<string, number> = {};
    let lastPoll = 0;
    let countersDoneAt: number | undefined;
    let timedOut = false;
    for (;;) {
      const now = performance.now();
      if (now - lastPoll >= 250) {
        lastPoll = now;
        counters = await stats().catch((error: unknown) => {
          notes.push(`stats poll failed: ${errorMessage(error)}`);
          return counters;
        });
        if ((counters.DONE ?? 0) >= accepted) countersDoneAt ??= performance.now();
      }
      const eventsDone = watcher && !watcher.error ? watcher.doneAt.size : undefined;
      if (eventsDone !== undefined ? eventsDone >= accepted : countersDoneAt !== undefined) break;
      // The counters say all are DONE but events are missing: give the stream 3 s more.
      if (countersDoneAt !== undefined && now - countersDoneAt > 3_000) break;
      if (now > deadline) {
        timedOut = true;
        break;
      }
      await sleep(watcher ? 10 : 50);
    }
    sampler.markWindowEnd();
    const pgCpuByClient = dbUrl ? await postgresCpuByClient(dbUrl, sampler) : undefined;
    counters = await stats().catch(() => counters);
    const batches: Record<string, { mean: number; count: number }> = {};
    for (const s of started) Object.assign(batches, await groupCommitBatches(s.port));
    if (watcher?.error) notes.push(watcher.error);

    // Time-to-DONE per task, and the time of the last DONE.
    const startsById = new Map<string, number>();
    driven.okIds.forEach((id, i) => {
      startsById.set(id, driven.okStarts[i] as number);
    });
    const toDone: number[] = [];
    let lastDone = Number.NaN;
    let sqlDone: number | undefined;
    let sqlSpanSeconds: number | undefined;
    let pgDuringLoad: PgActivity | undefined;
    const otherStatuses: Record<string, number> = {};
    if (dbUrl && pgBefore) {
      await sleep(1_100); // the statistics collector flushes at most once a second
      const after = await pgActivity(dbUrl);
      pgDuringLoad = {
        transactions: after.transactions - pgBefore.transactions,
        inserted: after.inserted - pgBefore.inserted,
        updated: after.updated - pgBefore.updated,
        deleted: after.deleted - pgBefore.deleted,
      };
    }
    if (dbUrl) {
      await withDatabase(dbUrl, async (c) => {
        const { rows } = await c.query<{ status: string; n: string }>(
          "SELECT status, count(*) AS n FROM tasks WHERE owner_id = $1 GROUP BY status",
          [user.id],
        );
        for (const r of rows) {
          if (r.status === "DONE") sqlDone = Number(r.n);
          else otherStatuses[r.status] = Number(r.n);
        }
        sqlDone ??= 0;
        const span = await c.query<{ s: number | null }>(
          "SELECT extract(epoch FROM max(finished_at) - min(created_at))::float8 AS s FROM tasks WHERE owner_id = $1",
          [user.id],
        );
        sqlSpanSeconds = span.rows[0]?.s ?? undefined;
        if (!watcher) {
          // Without events: DONE times from finished_at (set in the worker's transaction).
          const done = await c.query<{ id: string; ms: number }>(
            "SELECT id, (extract(epoch FROM finished_at) * 1000)::float8 AS ms FROM tasks WHERE owner_id = $1 AND status = 'DONE'",
            [user.id],
          );
          for (const r of done.rows) {
            const start = startsById.get(r.id);
            const at = r.ms - performance.timeOrigin;
            if (start !== undefined) toDone.push(at - start);
            if (!(at <= lastDone)) lastDone = at;
          }
        }
      });
    } else {
      for (const [status, n] of Object.entries(counters)) {
        if (status !== "DONE" && n) otherStatuses[status] = n;
      }
    }
    if (watcher) {
      for (const [id, at] of watcher.doneAt) {
        const start = startsById.get(id);
        if (start === undefined) continue;
        toDone.push(at - start);
        if (!(at <= lastDone)) lastDone = at;
      }
    }
    if (!Number.isFinite(lastDone) && countersDoneAt !== undefined) {
      lastDone = countersDoneAt;
      notes.push("last DONE time from the counters poll (250 ms resolution)");
    }
    const doneFinal = sqlDone ?? counters.DONE ?? 0;
    const secondsToLastDone = (lastDone - driven.firstStart) / 1000;
    const secondsToLast202 = (driven.lastOk - driven.firstStart) / 1000;
    if (watcher && watcher.doneAt.size !== doneFinal)
      notes.push(`events saw ${watcher.doneAt.size} DONE, the database ${doneFinal}`);

    const processes = sampler.processes();
    let profiles: string | undefined;
    if (options.profile.length) {
      // Profiles are written when the processes exit: stop them now, keep the folder.
      for (const s of started) await stopChild(s.child, 15_000);
      profiles = profileDir;
      const idx = cleanups.findIndex((c) => c.what === `remove ${work}`);
      if (idx >= 0) cleanups.splice(idx, 1);
    }
    return {
      mode,
      repetition,
      n: options.n,
      concurrency,
      handler: options.handler.name,
      client: options.client,
      watch: options.watch,
      nice: mode === "real" ? options.nice : undefined,
      accepted,
      failed: driven.failed,
      failures: Object.fromEntries(driven.failures),
      failureSamples: driven.failureSamples,
      acceptedPerSecond: accepted / secondsToLast202,
      e2ePerSecond: doneFinal >= accepted ? accepted / secondsToLastDone : Number.NaN,
      lost: accepted - doneFinal,
      done: { sql: sqlDone, counters: counters.DONE ?? 0, events: watcher?.doneAt.size },
      otherStatuses,
      post: summarize(driven.okLatencies),
      postBySecond: latencySlices(driven),
      timeToDone: summarize(toDone),
      secondsToLast202,
      secondsToLastDone,
      timedOut,
      processes,
      engines: sampler.groups(),
      machine: sampler.machine(),
      sqlSpanSeconds,
      pgActivity: pgDuringLoad,
      pgCpuByClient,
      batches,
      startupSeconds,
      warmup,
      profiles,
      notes,
    };
  } finally {
    watcher?.close();
    sampler.stop();
    // Undo what this run created (children first, then queues, database, folder).
    while (cleanups.length > depth) {
      const step = cleanups.pop();
      if (!step) break;
      const t = performance.now();
      try {
        await step.undo();
      } catch (error) {
        console.error(`clean-up: ${step.what}: ${errorMessage(error)}`);
      }
      const took = performance.now() - t;
      if (took > 2_000) console.log(`  (clean-up: ${step.what} took ${dec(took / 1000)} s)`);
    }
    if (options.keep) console.log(`  (kept ${work})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function amqpRate(raw: RawFigures | undefined, type: "classic" | "quorum") {
  return raw?.amqp.find((a) => a.queueType === type)?.consumedPerSecond;
}
function pgRate(raw: RawFigures | undefined, name: string) {
  return raw?.pg.find((p) => p.name === name)?.tps;
}
function httpRate(raw: RawFigures | undefined, concurrency: number) {
  return raw?.http.find((h) => h.concurrency === concurrency);
}
const ratio = (a: number, b: number | undefined) =>
  b === undefined || !Number.isFinite(a) || !b ? "–" : (a / b).toFixed(2);

function rawLine(raw: RawFigures): string {
  const parts = [
    `R_amqp(classic) ${int(amqpRate(raw, "classic"))} msg/s`,
    `R_amqp(quorum) ${int(amqpRate(raw, "quorum"))} msg/s`,
  ];
  for (const p of raw.pg)
    parts.push(`${p.name} ${int(p.tps)} tps (${p.tool}, ${dec(p.latencyMs, 2)} ms)`);
  for (const h of raw.http) {
    parts.push(
      `R_http(c=${h.concurrency}) ${int(h.requestsPerSecond)} req/s (p99 ${dec(h.p99Ms)} ms)`,
    );
  }
  return `raw: ${parts.join("  ")}`;
}

function rawBlock(raw: RawFigures): string {
  const lines = [`raw engine rates, repetition ${raw.repetition} (${dec(raw.seconds, 0)} s):`];
  for (const a of raw.amqp) {
    lines.push(
      `  R_amqp(${a.queueType})  ${padLeft(int(a.consumedPerSecond), 7)} msg/s consumed+acked  (${int(a.confirmedPerSecond)} published+confirmed/s; durable, persistent, confirms per 500, prefetch 200)`,
    );
  }
  for (const p of raw.pg) {
    lines.push(
      `  ${pad(p.name, 15)} ${padLeft(int(p.tps), 7)} tps  (${p.tool}, ${p.clients} clients, latency avg ${dec(p.latencyMs, 2)} ms)`,
    );
  }
  for (const h of raw.http) {
    lines.push(
      `  R_http(c=${h.concurrency}) ${padLeft(int(h.requestsPerSecond), 7)} req/s  (bare node:http POST; p50 ${dec(h.p50Ms)} / p99 ${dec(h.p99Ms)} ms; CPU/req server ${dec(h.serverCpuMsPerRequest, 3)} ms, loadgen[${h.client}] ${dec(h.loadgenCpuMsPerRequest, 3)} ms)`,
    );
  }
  for (const e of raw.errors) lines.push(`  ! ${e}`);
  return lines.join("\n");
}

function targetsLine(run: RunFigures): string {
  const items: string[] = [];
  if (run.concurrency === TARGET.e2eAt) {
    items.push(
      `e2e ≥ ${int(TARGET.e2e)}/s at c=${TARGET.e2eAt}: ${run.e2ePerSecond >= TARGET.e2e ? "MET" : "NOT MET"} (${int(run.e2ePerSecond)})`,
    );
  }
  if (run.concurrency === TARGET.postP99At) {
    items.push(
      `POST p99 < ${TARGET.postP99Ms} ms at c=${TARGET.postP99At}: ${run.post.p99 < TARGET.postP99Ms ? "MET" : "NOT MET"} (${dec(run.post.p99)} ms)`,
    );
  }
  items.push(
    `zero lost: ${run.lost === 0 && run.failed === 0 && !run.timedOut ? "MET" : "NOT MET"} (lost ${run.lost}, failed POSTs ${run.failed})`,
  );
  const children = run.processes.filter((p) => p.name !== "bench");
  const worst = children.reduce(
    (a, b) => (b.peakRssKb > a.peakRssKb ? b : a),
    children[0] as ProcessFigures,
  );
  items.push(
    `RSS < ${TARGET.rssMb} MB each: ${children.every((p) => p.peakRssKb < TARGET.rssMb * 1024) ? "MET" : "NOT MET"} (max ${mb(worst?.peakRssKb)} ${worst?.name})`,
  );
  return `targets: ${items.join(" | ")}`;
}

function runBlock(run: RunFigures, raw: RawFigures | undefined): string {
  const lines: string[] = [];
  lines.push(
    `mode ${run.mode}  N=${int(run.n)}  c=${run.concurrency}  handler ${run.handler}  client ${run.client}  watch ${run.watch}${run.nice === undefined ? "" : `  relay+worker nice ${run.nice}`}  (repetition ${run.repetition}; start-up ${dec(run.startupSeconds)} s)`,
  );
  if (run.warmup) {
    const w = run.warmup;
    lines.push(
      `warm-up (not in the figures below; another user, same c): ${int(w.accepted)} tasks, accepted/s ${int(w.acceptedPerSecond)}, POST p50 ${dec(w.post.p50)} ms  p99 ${dec(w.post.p99)} ms  (max ${dec(w.post.max)}), all DONE after ${w.secondsToAllDone === undefined ? "— (time limit)" : `${dec(w.secondsToAllDone, 2)} s`}${w.analyzeSeconds === undefined ? "" : `; then VACUUM (ANALYZE) ${dec(w.analyzeSeconds, 2)} s`}`,
    );
  }
  lines.push(
    `accepted/s ${int(run.acceptedPerSecond)}   e2e tasks/s ${int(run.e2ePerSecond)}   lost ${run.lost}   failed POSTs ${run.failed}${run.timedOut ? "   TIMED OUT" : ""}`,
  );
  lines.push(
    `POST p50 ${dec(run.post.p50)} ms  p99 ${dec(run.post.p99)} ms  (max ${dec(run.post.max)})   time-to-DONE p50 ${dec(run.timeToDone.p50)} ms  p99 ${dec(run.timeToDone.p99)} ms  (max ${dec(run.timeToDone.max)}, n ${run.timeToDone.n})`,
  );
  if (run.postBySecond.length > 1) {
    lines.push(
      `POST p50/p99 ms by second of the measurement: ${run.postBySecond.map((x) => `${x.fromSeconds}–${x.fromSeconds + 1} s ${dec(x.p50)}/${dec(x.p99)} (${int(x.n)})`).join("  ")}`,
    );
  }
  lines.push(
    `first POST → last 202 ${dec(run.secondsToLast202, 2)} s, → last DONE ${dec(run.secondsToLastDone, 2)} s; DONE: ${run.done.sql === undefined ? "" : `SQL ${run.done.sql}, `}counters ${run.done.counters}${run.done.events === undefined ? "" : `, events ${run.done.events}`}${run.sqlSpanSeconds === undefined ? "" : `; SQL span created→finished ${dec(run.sqlSpanSeconds, 2)} s`}`,
  );
  if (Object.keys(run.otherStatuses).length)
    lines.push(`other statuses at the end: ${JSON.stringify(run.otherStatuses)}`);
  if (run.failed)
    lines.push(
      `POST failures: ${JSON.stringify(run.failures)} e.g. ${run.failureSamples[0] ?? ""}`,
    );
  lines.push(...processTable(run, run.accepted, "task"));
  const batchList = Object.entries(run.batches);
  if (batchList.length) {
    lines.push(
      `group commits (mean items per statement): ${batchList.map(([name, b]) => `${name} ${dec(b.mean, 1)} (${int(b.count)}×)`).join("  ")}`,
    );
  }
  const pg = run.pgActivity;
  if (pg && run.accepted) {
    // Transactions per task show how well commits are batched (unbatched, a task costs ~4).
    const per = (x: number) => dec(x / run.accepted, 2);
    lines.push(
      `postgres per task: ${per(pg.transactions)} transactions, ${per(pg.inserted)} rows inserted, ${per(pg.updated)} updated, ${per(pg.deleted)} deleted`,
    );
  }
  const byClient = Object.entries(run.pgCpuByClient ?? {}).filter(([, s]) => s > 0);
  if (byClient.length && run.accepted) {
    const ms = (s: number) => dec((1000 * s) / run.accepted, 3);
    lines.push(
      `postgres CPU ms/task by client: ${byClient
        .sort((a, b) => b[1] - a[1])
        .map(([who, s]) => `${who} ${ms(s)}`)
        .join("  ")}`,
    );
  }
  if (raw) {
    lines.push(rawLine(raw));
    const h = httpRate(raw, run.concurrency);
    if (run.mode === "real") {
      lines.push(
        `ratios: e2e/R_amqp(quorum) ${ratio(run.e2ePerSecond, amqpRate(raw, "quorum"))}  e2e/R_amqp(classic) ${ratio(run.e2ePerSecond, amqpRate(raw, "classic"))}  e2e/R_pg1 ${ratio(run.e2ePerSecond, pgRate(raw, "R_pg1"))}  e2e/R_life ${ratio(run.e2ePerSecond, pgRate(raw, "R_life"))}  accepted/R_http(c=${run.concurrency}) ${ratio(run.acceptedPerSecond, h?.requestsPerSecond)}`,
      );
    } else {
      lines.push(
        `ratios (embedded runs on PGlite + the database queue, so engine ratios are for scale only): e2e/R_pg1 ${ratio(run.e2ePerSecond, pgRate(raw, "R_pg1"))}  e2e/R_life ${ratio(run.e2ePerSecond, pgRate(raw, "R_life"))}  accepted/R_http(c=${run.concurrency}) ${ratio(run.acceptedPerSecond, h?.requestsPerSecond)}`,
      );
    }
  }
  lines.push(targetsLine(run));
  for (const n of run.notes) lines.push(`note: ${n}`);
  if (run.profiles) lines.push(`CPU profiles: ${run.profiles}`);
  return lines.join("\n");
}

function summaryBlock(runs: RunFigures[], raws: RawFigures[], repeat: number): string {
  const lines = [
    repeat > 1
      ? `summary: median of ${repeat} repetitions [min–max]`
      : "summary (one repetition; PERFORMANCE.md asks for the median of 3: --repeat 3)",
  ];
  const fmt = medianRange;
  const groups = new Map<string, RunFigures[]>();
  for (const r of runs) {
    const key = `${r.mode} c=${r.concurrency}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const [key, rs] of groups) {
    const machineMs = rs.map((r) => (r.machine.busyCpuSeconds * 1000) / r.accepted);
    lines.push(
      `  ${pad(key, 16)} accepted/s ${fmt(
        rs.map((r) => r.acceptedPerSecond),
        int,
      )}  e2e/s ${fmt(
        rs.map((r) => r.e2ePerSecond),
        int,
      )}  POST p50 ${fmt(
        rs.map((r) => r.post.p50),
        (n) => dec(n),
      )} p99 ${fmt(
        rs.map((r) => r.post.p99),
        (n) => dec(n),
      )} ms  toDONE p50 ${fmt(
        rs.map((r) => r.timeToDone.p50),
        (n) => dec(n),
      )} p99 ${fmt(
        rs.map((r) => r.timeToDone.p99),
        (n) => dec(n),
      )} ms  lost ${rs.map((r) => r.lost).join(",")}  machine CPU/task ${fmt(machineMs, (n) => dec(n, 2))} ms`,
    );
    const warmups = rs.flatMap((r) => (r.warmup ? [r.warmup] : []));
    if (warmups.length) {
      lines.push(
        `  ${pad("", 16)} warm-up (cold start, ${int(warmups[0]?.n ?? 0)} tasks): POST p50 ${fmt(
          warmups.map((w) => w.post.p50),
          (n) => dec(n),
        )} p99 ${fmt(
          warmups.map((w) => w.post.p99),
          (n) => dec(n),
        )} ms`,
      );
    }
    const byRep = (r: RunFigures) => raws.find((x) => x.repetition === r.repetition);
    if (raws.length && key.startsWith("real")) {
      lines.push(
        `  ${pad("", 16)} e2e/R_amqp(quorum) ${fmt(
          rs.map((r) => r.e2ePerSecond / (amqpRate(byRep(r), "quorum") ?? Number.NaN)),
          (n) => dec(n, 2),
        )}  e2e/R_pg1 ${fmt(
          rs.map((r) => r.e2ePerSecond / (pgRate(byRep(r), "R_pg1") ?? Number.NaN)),
          (n) => dec(n, 2),
        )}  e2e/R_life ${fmt(
          rs.map((r) => r.e2ePerSecond / (pgRate(byRep(r), "R_life") ?? Number.NaN)),
          (n) => dec(n, 2),
        )}`,
      );
    }
  }
  if (raws.length) {
    const names = [
      ["R_amqp(classic)", (r: RawFigures) => amqpRate(r, "classic")],
      ["R_amqp(quorum)", (r: RawFigures) => amqpRate(r, "quorum")],
      ...["R_pg1", "R_pgupd", "R_life"].map((n) => [n, (r: RawFigures) => pgRate(r, n)] as const),
    ] as const;
    lines.push(
      `  raw: ${names
        .map(
          ([name, get]) =>
            `${name} ${fmt(
              raws.map((r) => get(r) ?? Number.NaN),
              int,
            )}`,
        )
        .join("  ")}`,
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseOptions(process.argv.slice(2));
  CLI = await buildBundle();
  const needsEngines = options.modes.includes("real") || !options.skipRaw;
  console.log(
    `TaskFlow bench: node ${process.version}, ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  if (needsEngines) {
    const [pgInfo, mqInfo] = await Promise.all([
      checkPostgres(options.pgUrl),
      checkRabbitMq(options.amqpUrl),
    ]);
    console.log(`engines: ${pgInfo}; ${mqInfo}`);
  }
  const runs: RunFigures[] = [];
  const raws: RawFigures[] = [];
  for (let repetition = 1; repetition <= options.repeat && !interrupted; repetition++) {
    let raw: RawFigures | undefined;
    if (!options.skipRaw) {
      const busy = await waitQuiet(options.waitQuiet);
      raw = await measureRaw(options, repetition);
      if (busy) raw.errors.push(busy);
      raws.push(raw);
      console.log(`\n${rawBlock(raw)}\n`);
    }
    for (const mode of options.modes) {
      for (const concurrency of options.concurrencies) {
        if (interrupted) break;
        console.log(`running mode ${mode}, c=${concurrency}, N=${options.n}…`);
        try {
          const run = await runPipeline(options, mode, concurrency, repetition);
          runs.push(run);
          console.log(`\n${runBlock(run, raw)}\n`);
        } catch (error) {
          if (interrupted) break;
          console.error(`\nrun mode ${mode} c=${concurrency} failed: ${errorMessage(error)}\n`);
          process.exitCode = 1;
        }
      }
    }
  }
  if (runs.length) console.log(summaryBlock(runs, raws, options.repeat));
  if (options.json) printJson({ ...options }, raws, runs);
}

main()
  .catch((error: unknown) => {
    console.error(`bench: ${errorMessage(error)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    await cleanUp();
    // Nothing of ours is left running: do not wait for stray timers or sockets.
    process.exit();
  });

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import amqplib from "amqplib";
import pg from "pg";
import { waitFor } from "../index.ts";
import { freePort } from "../processes.ts";

/**
 * Engines of the chaos suite's own: PostgreSQL, RabbitMQ and Redis started as child
 * processes on free ports with data folders under the system's temporary folder, so a
 * scenario can SIGKILL, stop, freeze and restart them. The machine's own engines (5432,
 * 5672, 6379) are never touched; only the processes started here are signalled, by pid.
 */

const run = promisify(execFile);
const PG_BIN = "/usr/lib/postgresql/15/bin";

/** The OS account an engine runs as: ours, or its own package's account when we are root. */
function account(user: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`running as root, and there is no ${user} account to run as`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

function ownedFolder(prefix: string, owner: { uid: number; gid: number } | undefined): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `taskflow-chaos-${prefix}-`));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

// Engines still running when the test process exits are SIGKILLed (by pid, ours only).
const started = new Set<ChildProcess>();
let hookInstalled = false;
function track(child: ChildProcess): void {
  if (!hookInstalled) {
    hookInstalled = true;
    process.once("exit", () => {
      for (const c of started) c.kill("SIGKILL");
    });
  }
  started.add(child);
  child.once("exit", () => started.delete(child));
}

interface Started {
  child: ChildProcess;
  exited: Promise<void>;
  log(): string;
}

function startChild(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; owner?: { uid: number; gid: number } | undefined },
): Started {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.owner ?? {}),
  });
  track(child);
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  return { child, exited, log: () => log };
}

/** Polls `answers` until true; fails at once if the process exits, or after `timeoutMs`. */
async function untilAnswers(
  s: Started,
  answers: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive(s.child)) throw new Error(`${what} exited before answering:\n${s.log()}`);
    if (await answers()) return;
    if (Date.now() > deadline)
      throw new Error(`${what} did not answer in ${timeoutMs} ms:\n${s.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function alive(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Signals a process of ours, if it is running (SIGSTOP / SIGCONT: freeze, thaw). */
function signal(pid: number | undefined, name: NodeJS.Signals): void {
  if (pid) process.kill(pid, name);
}

async function killChild(s: Started | undefined, signal: NodeJS.Signals = "SIGKILL") {
  if (!s || !alive(s.child)) return;
  s.child.kill(signal);
  await s.exited;
}

/** A process the suite can crash, stop gracefully, freeze and start again. */
export interface ChaosEngine {
  /** The URL TaskFlow's roles are given (straight to the engine; put a proxy in front if needed). */
  url: string;
  port: number;
  /** The engine's main process, for signals; undefined while it is down. */
  pid(): number | undefined;
  /** SIGKILL: no shutdown, no flush. Resolves once it is gone. */
  kill(): Promise<void>;
  /** (Re)starts it on the same port and data; resolves once it answers. */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: frozen, its sockets open but nothing answered. */
  freeze(): void;
  thaw(): void;
  /** Stops it and removes its data folder. */
  destroy(): Promise<void>;
  log(): string;
}

export interface ChaosPostgres extends ChaosEngine {
  /** `pg_ctl stop -m immediate`: every backend quits at once, recovery on the next start. */
  stopImmediate(): Promise<void>;
  /** An administrative URL (database `postgres`). */
  adminUrl: string;
}

/**
 * A PostgreSQL 15 cluster of the suite's own (initdb, then `postgres` as a child), trust
 * authentication on 127.0.0.1 only, with one database, `taskflow`. As root it runs as the
 * postgres account (PostgreSQL refuses root). fsync is off: the faults here kill processes,
 * not the machine, and the page cache survives a process.
 */
export async function startPostgres(): Promise<ChaosPostgres> {
  const owner = account("postgres");
  const dir = ownedFolder("pg", owner);
  const data = path.join(dir, "data");
  const port = await freePort();
  await run(
    path.join(PG_BIN, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
    { ...(owner ?? {}), env: { ...process.env, LC_ALL: "C" } },
  );
  let current: Started | undefined;
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const url = `postgres://postgres@127.0.0.1:${port}/taskflow`;
  const answers = async () => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  };
  const engine: ChaosPostgres = {
    url,
    adminUrl,
    port,
    pid: () => (alive(current?.child) ? current?.child.pid : undefined),
    async start() {
      if (alive(current?.child)) return;
      const settings = [
        `port=${port}`,
        "listen_addresses=127.0.0.1",
        `unix_socket_directories=${dir}`,
        "fsync=off",
        "full_page_writes=off",
        "shared_buffers=64MB",
        "max_connections=200",
        "log_min_messages=warning",
      ];
      current = startChild(
        path.join(PG_BIN, "postgres"),
        ["-D", data, ...settings.flatMap((s) => ["-c", s])],
        { owner, env: { ...process.env, LC_ALL: "C" } },
      );
      await untilAnswers(current, answers, "postgres", 60_000);
    },
    async stopImmediate() {
      if (!alive(current?.child)) return;
      await run(path.join(PG_BIN, "pg_ctl"), ["stop", "-D", data, "-m", "immediate", "-w"], {
        ...(owner ?? {}),
      });
      await current?.exited;
    },
    kill: () => killChild(current),
    freeze: () => signal(engine.pid(), "SIGSTOP"),
    thaw: () => signal(engine.pid(), "SIGCONT"),
    async destroy() {
      engine.thaw();
      await killChild(current, "SIGQUIT");
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => current?.log() ?? "",
  };
  await engine.start();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query("CREATE DATABASE taskflow");
  await admin.end();
  return engine;
}

export interface ChaosRabbitMq extends ChaosEngine {
  /** `rabbitmqctl stop_app` / `start_app`: the node's Erlang VM stays up, RabbitMQ stops. */
  stopApp(): Promise<void>;
  startApp(): Promise<void>;
  /** Ready messages in a queue (0 if it does not exist). */
  messageCount(queue: string): Promise<number>;
}

/**
 * A second RabbitMQ node of the suite's own (`chaos_<pid>@localhost`), AMQP on a free port,
 * its own Erlang distribution port, database and logs; no plugins. As root it runs as the
 * rabbitmq account; its Erlang cookie lives in its own folder (HOME), so rabbitmqctl talks to
 * it and to nothing else.
 */
export async function startRabbitMq(): Promise<ChaosRabbitMq> {
  const owner = account("rabbitmq");
  const dir = ownedFolder("rabbitmq", owner);
  const [port, distPort] = [await freePort(), await freePort()];
  const node = `chaos_${process.pid}_${port}@localhost`;
  const files = {
    env: path.join(dir, "rabbitmq-env.conf"),
    config: path.join(dir, "rabbitmq.conf"),
    plugins: path.join(dir, "enabled_plugins"),
    pid: path.join(dir, "rabbitmq.pid"),
  };
  writeFileSync(files.env, "");
  writeFileSync(
    files.config,
    [
      `listeners.tcp.1 = 127.0.0.1:${port}`,
      "loopback_users = none",
      // A frozen or blackholed peer is noticed by the clients' own heartbeats, not ours.
      "heartbeat = 60",
      "disk_free_limit.absolute = 50MB",
      "",
    ].join("\n"),
  );
  writeFileSync(files.plugins, "[].\n");
  for (const sub of ["mnesia", "log"]) mkdirSync(path.join(dir, sub));
  if (owner) {
    const owned = [
      files.env,
      files.config,
      files.plugins,
      ...["mnesia", "log"].map((d) => path.join(dir, d)),
    ];
    for (const f of owned) chownSync(f, owner.uid, owner.gid);
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    RABBITMQ_CONF_ENV_FILE: files.env,
    RABBITMQ_CONFIG_FILE: files.config,
    RABBITMQ_ENABLED_PLUGINS_FILE: files.plugins,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: path.join(dir, "log"),
    RABBITMQ_PID_FILE: files.pid,
    ERL_EPMD_ADDRESS: "127.0.0.1",
    ERL_FLAGS: "-kernel inet_dist_use_interface {127,0,0,1}",
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const ctl = (...args: string[]) =>
    run("/usr/lib/rabbitmq/bin/rabbitmqctl", ["-n", node, ...args], {
      env,
      ...(owner ?? {}),
      timeout: 120_000,
    });
  let current: Started | undefined;
  /** The Erlang VM's pid, from the pid file (the started script may have exec'd into it). */
  const vmPid = () => {
    if (!alive(current?.child)) return undefined;
    try {
      return Number(readFileSync(files.pid, "utf8").trim()) || current?.child.pid;
    } catch {
      return current?.child.pid;
    }
  };
  const answers = async () => {
    try {
      const connection = await amqplib.connect(url, { timeout: 2_000 });
      connection.on("error", () => {});
      await connection.close();
      return true;
    } catch {
      return false;
    }
  };
  const engine: ChaosRabbitMq = {
    url,
    port,
    pid: vmPid,
    async start() {
      if (alive(current?.child)) return;
      rmSync(files.pid, { force: true });
      current = startChild("/usr/lib/rabbitmq/bin/rabbitmq-server", [], { env, owner });
      await untilAnswers(current, answers, "rabbitmq-server", 120_000);
    },
    async kill() {
      const pid = vmPid();
      if (pid && pid !== current?.child.pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
      await killChild(current);
    },
    freeze: () => signal(vmPid(), "SIGSTOP"),
    thaw: () => signal(vmPid(), "SIGCONT"),
    async stopApp() {
      await ctl("stop_app");
    },
    async startApp() {
      await ctl("start_app");
      await waitFor(answers, { timeoutMs: 60_000, intervalMs: 250, what: "RabbitMQ start_app" });
    },
    async messageCount(queue) {
      const connection = await amqplib.connect(url);
      connection.on("error", () => {});
      try {
        const channel = await connection.createChannel();
        channel.on("error", () => {});
        return (await channel.checkQueue(queue)).messageCount;
      } catch {
        return 0;
      } finally {
        await connection.close().catch(() => {});
      }
    },
    async destroy() {
      engine.thaw();
      await engine.kill();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => current?.log() ?? "",
  };
  await engine.start();
  return engine;
}

/**
 * A Redis of the suite's own: append-only file fsynced on every write (what BullMQ needs to
 * keep an acknowledged job through a crash), no RDB snapshots.
 */
export async function startRedis(): Promise<ChaosEngine> {
  const dir = ownedFolder("redis", undefined);
  const port = await freePort();
  let current: Started | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const answers = () =>
    run("redis-cli", ["-p", String(port), "ping"], { timeout: 2_000 }).then(
      (r) => r.stdout.trim() === "PONG",
      () => false,
    );
  const engine: ChaosEngine = {
    url,
    port,
    pid: () => (alive(current?.child) ? current?.child.pid : undefined),
    async start() {
      if (alive(current?.child)) return;
      current = startChild(
        "redis-server",
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--dir",
          dir,
          "--save",
          "",
          "--appendonly",
          "yes",
          "--appendfsync",
          "always",
        ],
        {},
      );
      await untilAnswers(current, answers, "redis-server", 30_000);
    },
    kill: () => killChild(current),
    freeze: () => signal(engine.pid(), "SIGSTOP"),
    thaw: () => signal(engine.pid(), "SIGCONT"),
    async destroy() {
      engine.thaw();
      await killChild(current);
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => current?.log() ?? "",
  };
  await engine.start();
  return engine;
}

import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * End-to-end tests start TaskFlow the way an operator does: `node packages/cli/bin/taskflow.js
 * <role>` as a child process, configured only through its environment.
 */

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const taskflowBin = path.join(repoRoot, "packages/cli/bin/taskflow.js");

let taskflowProgram = taskflowBin;

/**
 * Makes every child of this test file run `file` (a bundle of the CLI, as `npm run build`
 * makes) instead of bin/taskflow.js: it starts on about half the CPU of tsx over the sources,
 * which counts on two cores when a file starts dozens of processes. Build it from the
 * current sources first; undefined goes back to bin/taskflow.js.
 */
export function useTaskflowProgram(file: string | undefined): void {
  taskflowProgram = file ?? taskflowBin;
}

export type TaskflowRole =
  | "api"
  | "worker"
  | "relay"
  | "mailer"
  | "notifier"
  | "scheduler"
  | "alerts"
  | "analytics"
  | "validator"
  | "start";

/** Variables for the child; `undefined` removes one. Merged over a cleaned copy of ours. */
export type ChildEnv = Record<string, string | undefined>;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RoleProcess {
  role: TaskflowRole;
  /** Where its HTTP endpoints answer (/readyz…): the validator's TASKFLOW_OPS_PORT. */
  url: string;
  /** Its TASKFLOW_PORT (the validator's gRPC port). */
  port: number;
  /** `127.0.0.1:<TASKFLOW_PORT>`: what TASKFLOW_VALIDATOR_URL names for the validator. */
  address: string;
  pid: number;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<ExitInfo>;
  /** Sends `signal` (SIGTERM) and waits for the exit; SIGKILLs and throws if it takes too long. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  /** SIGKILL: dies without a chance to clean up. Resolves on exit. */
  kill(): Promise<ExitInfo>;
  /** Everything it wrote to stdout and stderr so far (the last MAX_OUTPUT characters). */
  output(): string;
}

const MAX_OUTPUT = 1_000_000;
const TAIL = 4_000;

// Every child this test process started and that is still alive: killed if we go first.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess) {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/**
 * Preloaded into every child: if the process that started it dies without cleaning up (a
 * SIGKILLed test runner runs no exit hooks), the child is reparented and kills itself.
 */
const ORPHAN_WATCHDOG = `data:text/javascript,${encodeURIComponent(
  "const parent = process.ppid; setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL'); }, 500).unref();",
)}`;

/** The child's environment: ours without TASKFLOW_* and NODE_ENV (nothing leaks in), plus `env`. */
function childEnv(env: ChildEnv): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("TASKFLOW_") || key === "NODE_ENV") continue;
    base[key] = value;
  }
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

function spawnTaskflow(args: string[], env: ChildEnv, input?: string) {
  const child = spawn(process.execPath, ["--import", ORPHAN_WATCHDOG, taskflowProgram, ...args], {
    cwd: repoRoot,
    env: childEnv(env),
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (input !== undefined) child.stdin?.end(input);
  track(child);
  let stdout = "";
  let stderr = "";
  let combined = "";
  const keep = (s: string) => (s.length > MAX_OUTPUT ? s.slice(-MAX_OUTPUT) : s);
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout = keep(stdout + chunk);
    combined = keep(combined + chunk);
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = keep(stderr + chunk);
    combined = keep(combined + chunk);
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    // "close": the process exited and its output pipes are drained.
    child.once("close", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: null, signal: null }));
  });
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => combined,
  };
}

/** A TCP port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const tail = (text: string) => (text.length > TAIL ? `…${text.slice(-TAIL)}` : text);

async function answersReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

export interface StartRoleOptions {
  /** How long to wait for GET /readyz to answer 200 (default 90 s). */
  readyTimeoutMs?: number;
  /** A fixed port instead of a free one. */
  port?: number;
  /**
   * The validator's TASKFLOW_OPS_PORT (its gRPC port has no HTTP, so its /readyz answers
   * there); a free one if not given. Other roles ignore it.
   */
  opsPort?: number;
}

/**
 * Starts `taskflow <role>` on a free TASKFLOW_PORT and resolves once its GET /readyz answers
 * 200 (the validator's on its TASKFLOW_OPS_PORT). Fails (with the tail of the process's
 * output) if it exits or is not ready in time.
 */
export async function startRole(
  role: TaskflowRole,
  env: ChildEnv,
  options: StartRoleOptions = {},
): Promise<RoleProcess> {
  // A ceiling, not a wait: on two busy cores a role can take a minute to start.
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  // The free port can be taken between our look and the child's listen: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    let opsPort: number | undefined;
    if (role === "validator") {
      opsPort = options.opsPort ?? (await freePort());
      while (opsPort === port) opsPort = await freePort();
    }
    const url = `http://127.0.0.1:${opsPort ?? port}`;
    const run = spawnTaskflow([role], {
      ...env,
      TASKFLOW_HOST: "127.0.0.1",
      TASKFLOW_PORT: String(port),
      ...(opsPort === undefined ? {} : { TASKFLOW_OPS_PORT: String(opsPort) }),
    });
    const pid = run.child.pid;
    let exit: ExitInfo | undefined;
    void run.exited.then((info) => {
      exit = info;
    });
    const deadline = Date.now() + readyTimeoutMs;
    while (!exit && Date.now() < deadline) {
      if (await answersReady(url)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!exit && Date.now() < deadline && pid !== undefined) {
      return makeRoleProcess(role, url, port, pid, run);
    }
    if (!exit) {
      run.child.kill("SIGKILL");
      await run.exited;
      throw new Error(
        `taskflow ${role} was not ready within ${readyTimeoutMs} ms on ${url}; its output:\n${tail(run.output())}`,
      );
    }
    const portsOurs = options.port === undefined && options.opsPort === undefined;
    if (attempt < 3 && portsOurs && /EADDRINUSE/.test(run.output())) continue;
    throw new Error(
      `taskflow ${role} exited (code ${exit.code}, signal ${exit.signal}) before it was ready; its output:\n${tail(run.output())}`,
    );
  }
}

function makeRoleProcess(
  role: TaskflowRole,
  url: string,
  port: number,
  pid: number,
  run: ReturnType<typeof spawnTaskflow>,
): RoleProcess {
  const { child, exited } = run;
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    role,
    url,
    port,
    address: `127.0.0.1:${port}`,
    pid,
    exited,
    output: run.output,
    async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 20_000) {
      if (!alive()) return exited;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        exited,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (outcome) return outcome;
      child.kill("SIGKILL");
      await exited;
      throw new Error(
        `taskflow ${role} (pid ${pid}) did not exit within ${timeoutMs} ms of ${signal}; killed. Its output:\n${tail(run.output())}`,
      );
    },
    async kill() {
      if (alive()) child.kill("SIGKILL");
      return exited;
    },
  };
}

export interface CliResult extends ExitInfo {
  stdout: string;
  stderr: string;
}

/**
 * Runs `taskflow <args…>` to completion (SIGKILLed after `timeoutMs`), with `input` on its
 * standard input if given, and returns what it printed.
 */
export async function runTaskflow(
  args: string[],
  env: ChildEnv,
  { timeoutMs = 60_000, input }: { timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  const run = spawnTaskflow(args, env, input);
  const timer = setTimeout(() => run.child.kill("SIGKILL"), timeoutMs);
  const exit = await run.exited;
  clearTimeout(timer);
  return { ...exit, stdout: run.stdout(), stderr: run.stderr() };
}

/** `taskflow migrate up`; resolves with its output on exit 0, else rejects with it. */
export async function runMigrations(env: ChildEnv): Promise<string> {
  const result = await runTaskflow(["migrate", "up"], env);
  if (result.code !== 0) {
    throw new Error(
      `taskflow migrate up failed (code ${result.code}, signal ${result.signal}):\n${tail(result.stdout + result.stderr)}`,
    );
  }
  return result.stdout;
}

/** SIGKILLs every child still running (for afterAll: nothing outlives its test file). */
export async function killAllRoles(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

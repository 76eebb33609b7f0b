import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import http from "node:http";
import { errorMessage, idleSleep, sleep } from "./util.ts";

/** A process the benchmark started; its output goes to `logFile`. */
export interface Child {
  name: string;
  pid: number;
  proc: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  exitStatus: number | string | undefined;
}

const live = new Set<Child>();

// However the benchmark ends, no child outlives it.
process.on("exit", () => {
  for (const child of live) {
    try {
      child.proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

export function spawnChild(
  name: string,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; logFile: string; input?: string },
): Child {
  const fd = openSync(options.logFile, "a");
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    // With `input`, standard input is a pipe that gets it, then end of file (a password).
    stdio: [options.input === undefined ? "ignore" : "pipe", fd, fd],
  });
  closeSync(fd);
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  if (options.input !== undefined && proc.stdin) {
    proc.stdin.on("error", () => {});
    proc.stdin.end(options.input);
  }
  const child: Child = {
    name,
    pid: proc.pid,
    proc,
    logFile: options.logFile,
    exitStatus: undefined,
    exited: new Promise((resolve) => {
      proc.once("exit", (code, signal) => {
        live.delete(child);
        child.exitStatus = code ?? signal ?? "unknown";
        resolve(child.exitStatus);
      });
      proc.once("error", (error) => {
        live.delete(child);
        child.exitStatus = `spawn error: ${error.message}`;
        resolve(child.exitStatus);
      });
    }),
  };
  live.add(child);
  return child;
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. Says which ended it. */
export async function stopChild(
  child: Child,
  graceMs = 10_000,
): Promise<"gone" | "exited" | "killed"> {
  if (child.exitStatus !== undefined) return "gone";
  child.proc.kill("SIGTERM");
  const exited = await Promise.race([
    child.exited.then(() => true),
    idleSleep(graceMs).then(() => false),
  ]);
  if (exited) return "exited";
  child.proc.kill("SIGKILL");
  await Promise.race([child.exited, idleSleep(2_000)]);
  return "killed";
}

export function logTail(child: Child, lines = 25): string {
  try {
    return readFileSync(child.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

/** Runs a command to its end, with a time limit; throws with its output if it fails. */
export async function runToEnd(
  name: string,
  command: string,
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    cwd: string;
    logFile: string;
    timeoutMs: number;
    /** Written to its standard input, then end of file. */
    input?: string;
  },
): Promise<string> {
  const child = spawnChild(name, command, args, options);
  const status = await Promise.race([
    child.exited,
    idleSleep(options.timeoutMs).then(() => "timeout"),
  ]);
  if (status === "timeout") {
    await stopChild(child, 2_000);
    throw new Error(`${name} did not finish within ${options.timeoutMs} ms:\n${logTail(child)}`);
  }
  if (status !== 0) throw new Error(`${name} exited with ${status}:\n${logTail(child)}`);
  return readFileSync(options.logFile, "utf8");
}

function getStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(0));
  });
}

/** Polls GET `path` until it answers 200; fails early if the process exits. */
export async function waitReady(
  child: Child,
  port: number,
  path = "/readyz",
  timeoutMs = 90_000,
): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (child.exitStatus !== undefined) {
      throw new Error(
        `${child.name} exited (${child.exitStatus}) before it was ready:\n${logTail(child)}`,
      );
    }
    if ((await getStatus(port, path)) === 200) return performance.now() - started;
    await sleep(100);
  }
  throw new Error(
    `${child.name} was not ready (GET ${path} on port ${port}) within ${timeoutMs} ms:\n${logTail(child)}`,
  );
}

/** Stops every child still running (used on SIGINT / fatal errors). */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...live].map((child) =>
      stopChild(child).catch((error: unknown) =>
        console.error(`stopping ${child.name}: ${errorMessage(error)}`),
      ),
    ),
  );
}

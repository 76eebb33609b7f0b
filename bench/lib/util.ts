import { randomBytes } from "node:crypto";
import net from "node:net";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A sleep that does not keep the process alive (for the losing side of a race). */
export const idleSleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/** A random string of `length` URL-safe characters (a JWT secret). */
export function randomSecret(length: number): string {
  return randomBytes(length).toString("base64url").slice(0, length);
}

/** Rejects with `what timed out` if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP port nobody listens on right now (the kernel's pick for port 0 on loopback). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Several distinct free ports (held open together so the kernel cannot hand one out twice). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      const address = server.address();
      if (typeof address !== "object" || !address) throw new Error("no free port");
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
  };
}

export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length ? percentile(Float64Array.from(finite).sort(), 50) : Number.NaN;
}

/** "1,234" (whole number, thousands separators); "–" when not a number. */
export function int(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n)
    ? "–"
    : Math.round(n).toLocaleString("en-US", { maximumFractionDigits: 0 });
}

/** Fixed decimals; "–" when not a number. */
export function dec(n: number | undefined, digits = 1): string {
  return n === undefined || !Number.isFinite(n) ? "–" : n.toFixed(digits);
}

export function mb(kb: number | undefined): string {
  return kb === undefined || !Number.isFinite(kb) ? "–" : `${(kb / 1024).toFixed(0)} MB`;
}

export function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text + " ".repeat(width - text.length);
}

export function padLeft(text: string, width: number): string {
  return text.length >= width ? ` ${text}` : " ".repeat(width - text.length) + text;
}

/** Refuses anything but loopback: the benchmark sends traffic nowhere else. */
export function assertLoopback(url: string, what: string): void {
  const { hostname } = new URL(url);
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(hostname)) {
    throw new Error(`${what} must point at 127.0.0.1 (got host "${hostname}")`);
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length) {
    return error.errors.map(errorMessage).join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}

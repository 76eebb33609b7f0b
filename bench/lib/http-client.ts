import http from "node:http";
import { Pool } from "undici";
import { summarize } from "./util.ts";

/** undici's Pool costs the load generator about half the CPU of node:http per request. */
export type ClientKind = "undici" | "http" | "fetch";

export interface Answer {
  status: number;
  text: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** One request on loopback with node:http; the body is read whole. */
export function httpRequest(
  agent: http.Agent | false,
  port: number,
  method: string,
  path: string,
  headers: Record<string, string | number>,
  body?: Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: "127.0.0.1", port, method, path, headers, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** JSON request for set-up calls (register, login, stats). */
export async function jsonRequest<T>(
  port: number,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const payload =
    options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string | number> = { accept: "application/json" };
  if (payload) {
    headers["content-type"] = "application/json";
    headers["content-length"] = payload.length;
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const answer = await httpRequest(setupAgent, port, method, path, headers, payload);
  let body: unknown;
  try {
    body = answer.text ? JSON.parse(answer.text) : undefined;
  } catch {
    body = answer.text;
  }
  return { status: answer.status, body: body as T };
}

const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });

export interface PostTarget {
  port: number;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * A reusable POST sender: an undici Pool of `concurrency` connections, node:http with a
 * keep-alive agent of `concurrency` sockets, or the global fetch (keep-alive by default).
 */
export function createPoster(kind: ClientKind, target: PostTarget, concurrency: number) {
  if (kind === "undici") {
    const pool = new Pool(`http://127.0.0.1:${target.port}`, {
      connections: concurrency,
      pipelining: 1,
    });
    const headers = { ...target.headers, "content-type": "application/json" };
    return {
      async send(): Promise<Answer> {
        const res = await pool.request({
          method: "POST",
          path: target.path,
          headers,
          body: target.body,
          headersTimeout: REQUEST_TIMEOUT_MS,
          bodyTimeout: REQUEST_TIMEOUT_MS,
        });
        return { status: res.statusCode, text: await res.body.text() };
      },
      close: () => void pool.close(),
    };
  }
  if (kind === "http") {
    const agent = new http.Agent({
      keepAlive: true,
      maxSockets: concurrency,
      maxFreeSockets: concurrency,
    });
    const headers = {
      ...target.headers,
      "content-type": "application/json",
      "content-length": target.body.length,
    };
    return {
      send: () => httpRequest(agent, target.port, "POST", target.path, headers, target.body),
      close: () => agent.destroy(),
    };
  }
  const url = `http://127.0.0.1:${target.port}${target.path}`;
  const headers = { ...target.headers, "content-type": "application/json" };
  return {
    async send(): Promise<Answer> {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body: target.body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      return { status: res.status, text: await res.text() };
    },
    close() {},
  };
}

export interface DriveResult {
  /** performance.now() of the first request's start. */
  firstStart: number;
  /** performance.now() of the last answer with the expected status. */
  lastOk: number;
  /** performance.now() when the last answer (any status) came back. */
  ended: number;
  sent: number;
  ok: number;
  failed: number;
  /** Failures by status ("error" for a transport error); a few messages kept for the report. */
  failures: Map<string, number>;
  failureSamples: string[];
  /** Latency in ms of every answered request with the expected status. */
  okLatencies: Float64Array;
  /** For each ok request: its start time and the returned id (when `parseId`). */
  okStarts: Float64Array;
  okIds: string[];
}

/** POST latency of the requests started in one slice of a measurement. */
export interface LatencySlice {
  /** Seconds from the first request's start to the slice's start. */
  fromSeconds: number;
  n: number;
  p50: number;
  p99: number;
}

/**
 * The measurement cut into slices of `sliceMs` by request start: shows whether the p99 comes
 * from the whole run or from part of it (the opening seconds, a stall).
 */
export function latencySlices(result: DriveResult, sliceMs = 1_000): LatencySlice[] {
  const buckets: number[][] = [];
  result.okStarts.forEach((start, i) => {
    const slice = Math.floor((start - result.firstStart) / sliceMs);
    const bucket = buckets[slice] ?? [];
    bucket.push(result.okLatencies[i] as number);
    buckets[slice] = bucket;
  });
  const slices: LatencySlice[] = [];
  buckets.forEach((latencies, slice) => {
    const { n, p50, p99 } = summarize(latencies);
    slices.push({ fromSeconds: (slice * sliceMs) / 1000, n, p50, p99 });
  });
  return slices;
}

/**
 * Closed loop: `concurrency` clients, each sending the next request as soon as its previous one
 * answered, until `n` requests have been sent (or, with `durationMs`, until that time is up).
 */
export async function drive(options: {
  send: () => Promise<Answer>;
  concurrency: number;
  n?: number;
  durationMs?: number;
  expectStatus: number;
  parseId: boolean;
}): Promise<DriveResult> {
  const { send, concurrency, expectStatus, parseId } = options;
  const limit = options.n ?? Number.POSITIVE_INFINITY;
  const capacity = Number.isFinite(limit) ? limit : 1 << 20;
  const okLatencies = new Float64Array(capacity);
  const okStarts = new Float64Array(capacity);
  const okIds: string[] = [];
  const failures = new Map<string, number>();
  const failureSamples: string[] = [];
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let lastOk = 0;
  const firstStart = performance.now();
  const deadline =
    options.durationMs === undefined ? Number.POSITIVE_INFINITY : firstStart + options.durationMs;

  const fail = (key: string, sample: string) => {
    failed++;
    failures.set(key, (failures.get(key) ?? 0) + 1);
    if (failureSamples.length < 5) failureSamples.push(sample);
  };

  async function client() {
    while (sent < limit && performance.now() < deadline) {
      sent++;
      const start = performance.now();
      try {
        const answer = await send();
        const end = performance.now();
        if (answer.status === expectStatus) {
          if (ok < capacity) {
            okLatencies[ok] = end - start;
            okStarts[ok] = start;
          }
          if (parseId) okIds.push((JSON.parse(answer.text) as { id: string }).id);
          ok++;
          lastOk = end;
        } else {
          fail(String(answer.status), `${answer.status} ${answer.text.slice(0, 200)}`);
        }
      } catch (error) {
        fail("error", error instanceof Error ? error.message : String(error));
      }
    }
  }

  await Promise.all(Array.from({ length: concurrency }, client));
  const kept = Math.min(ok, capacity);
  return {
    firstStart,
    lastOk,
    ended: performance.now(),
    sent,
    ok,
    failed,
    failures,
    failureSamples,
    okLatencies: okLatencies.subarray(0, kept),
    okStarts: okStarts.subarray(0, kept),
    okIds,
  };
}

/**
 * Follows GET /api/events and records when each task id is first seen DONE (performance.now()),
 * and when each notification (`notification.created`, by notification id) arrives.
 * Resolves `open` once the stream has answered 200 and sent its first comment.
 */
export class EventWatcher {
  readonly doneAt = new Map<string, number>();
  readonly failedIds = new Set<string>();
  events = 0;
  private req: http.ClientRequest | undefined;
  private closed = false;
  error: string | undefined;
  onDone: (() => void) | undefined;
  /** When each `notification.created` (by notification id) was first seen. */
  readonly notificationAt = new Map<string, number>();
  onNotification: (() => void) | undefined;

  open(port: number, token: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error("GET /api/events did not open in time"));
        this.close();
      }, timeoutMs);
      const req = http.get(
        {
          host: "127.0.0.1",
          port,
          path: "/api/events",
          agent: false,
          headers: { accept: "text/event-stream", authorization: `Bearer ${token}` },
        },
        (res) => {
          if (res.statusCode !== 200) {
            clearTimeout(timer);
            res.resume();
            reject(new Error(`GET /api/events answered ${res.statusCode}`));
            return;
          }
          res.setEncoding("utf8");
          let buffer = "";
          let opened = false;
          res.on("data", (chunk: string) => {
            buffer += chunk;
            let split = buffer.indexOf("\n\n");
            while (split !== -1) {
              const block = buffer.slice(0, split);
              buffer = buffer.slice(split + 2);
              if (!opened) {
                opened = true;
                clearTimeout(timer);
                resolve();
              }
              this.dispatch(block);
              split = buffer.indexOf("\n\n");
            }
          });
          res.on("end", () => {
            if (!this.closed) this.error = "the event stream ended";
          });
          res.on("error", (error) => {
            if (!this.closed) this.error = `event stream: ${error.message}`;
          });
        },
      );
      req.on("error", (error) => {
        clearTimeout(timer);
        if (!this.closed) this.error = `event stream: ${error.message}`;
        reject(error);
      });
      this.req = req;
    });
  }

  private dispatch(block: string) {
    let event = "message";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data += line.slice(5).trim();
    }
    if (event === "notification.created" && data) {
      const notification = JSON.parse(data) as { id: string };
      if (!this.notificationAt.has(notification.id)) {
        this.notificationAt.set(notification.id, performance.now());
        this.onNotification?.();
      }
      return;
    }
    if (event !== "task.updated" || !data) return;
    this.events++;
    const change = JSON.parse(data) as { id: string; status: string };
    if (change.status === "DONE" && !this.doneAt.has(change.id)) {
      this.doneAt.set(change.id, performance.now());
      this.onDone?.();
    } else if (change.status === "FAILED") {
      this.failedIds.add(change.id);
    }
  }

  close() {
    this.closed = true;
    this.req?.destroy();
  }
}

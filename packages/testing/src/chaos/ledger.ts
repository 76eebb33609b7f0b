import { createServer, type Server } from "node:http";
import type { ApiClient } from "../api-client.ts";

/**
 * The ledger: what every client request was told, and every side effect a handler
 * performed. Jepsen's history, kept by the suite so the checker can compare it with what the
 * system finally holds.
 */

/** ok: 2xx; failed: a definite refusal (4xx, connection refused); unknown: 5xx, a reset or a timeout. */
export type RequestOutcome = "ok" | "failed" | "unknown";

export interface LedgerEntry {
  /** The request's identity, sent as the task's title so the checker finds the task. */
  key: string;
  outcome: RequestOutcome;
  /** The HTTP status, if an answer came. */
  status?: number;
  taskId?: string;
  retryAfter?: string | null;
  /** Milliseconds from the request to its answer (or failure). */
  ms: number;
  at: number;
}

export class Ledger {
  readonly entries: LedgerEntry[] = [];
  record(entry: LedgerEntry): void {
    this.entries.push(entry);
  }
  count(outcome: RequestOutcome): number {
    return this.entries.filter((e) => e.outcome === outcome).length;
  }
}

export interface TaskLoadOptions {
  client: ApiClient;
  ledger: Ledger;
  /** Prefix of every key (a scenario's own). */
  prefix: string;
  /** Requests in flight at once. */
  concurrency: number;
  /** Pause between two requests of one lane, so the load lasts while faults come. */
  pauseMs?: number;
  /** The task of request `key`. */
  task: (key: string) => { type: string; payload?: unknown; max_attempts?: number };
}

/** Submits tasks until `stop()`; `stopped` resolves when the last request has its answer. */
export function startTaskLoad(options: TaskLoadOptions): {
  stop(): Promise<void>;
  sent(): number;
} {
  let running = true;
  let n = 0;
  const lane = async () => {
    while (running) {
      const key = `${options.prefix}-${n++}`;
      const started = Date.now();
      try {
        const answer = await options.client.request<{ id?: string }>("POST", "/api/tasks", {
          ...options.task(key),
          title: key,
        });
        const outcome: RequestOutcome =
          answer.status < 300 ? "ok" : answer.status < 500 ? "failed" : "unknown";
        options.ledger.record({
          key,
          outcome,
          status: answer.status,
          ...(answer.body?.id ? { taskId: answer.body.id } : {}),
          retryAfter: answer.headers.get("retry-after"),
          ms: Date.now() - started,
          at: started,
        });
      } catch (error) {
        // Refused: the request never reached a server, so it definitely did nothing.
        const refused = (error as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED";
        options.ledger.record({
          key,
          outcome: refused ? "failed" : "unknown",
          ms: Date.now() - started,
          at: started,
        });
      }
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  const lanes = Array.from({ length: options.concurrency }, lane);
  return {
    sent: () => n,
    async stop() {
      running = false;
      await Promise.all(lanes);
    },
  };
}

export interface Effect {
  task_id: string;
  attempt: number;
  pid: number;
  at: number;
}

export interface EffectsLedger {
  /** TASKFLOW_CHAOS_EFFECT_URL. */
  url: string;
  /** The effects table: every effect performed, in arrival order (append only). */
  readonly effects: Effect[];
  close(): Promise<void>;
}

/**
 * The effects table behind the `chaos.effect` task type: an HTTP endpoint of the suite's
 * that appends every POST it receives. It lives in the suite's process, so it keeps counting
 * while TaskFlow's engines are down.
 */
export async function startEffectsLedger(): Promise<EffectsLedger> {
  const effects: Effect[] = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      try {
        const e = JSON.parse(body) as Omit<Effect, "at">;
        effects.push({ task_id: e.task_id, attempt: e.attempt, pid: e.pid, at: Date.now() });
        response.writeHead(204).end();
      } catch {
        response.writeHead(400).end();
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/effects`,
    effects,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

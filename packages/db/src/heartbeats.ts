import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** What a process reports at each beat. */
export interface ProcessStats {
  inFlight: number;
  processed: number;
  failed: number;
}

export interface HeartbeatOptions {
  db: Kysely<Database>;
  /** "worker", "mailer", … */
  role: string;
  concurrency: number;
  stats: () => ProcessStats;
  intervalMs?: number;
  /** A beat that could not be written (the database is away): the next one tries again. */
  onError?: (error: unknown) => void;
}

export interface Heartbeat {
  /** Random per process start: a restarted process is a new row. */
  readonly id: string;
  /** Writes the first beat (so a process that cannot is noticed at start), then beats on. */
  start(): Promise<void>;
  /** Stops beating and marks the row stopped (a clean exit, not a vanished process). */
  stop(): Promise<void>;
}

/** Rows silent this long (stopped or offline) are deleted when a process starts. */
const PRUNE_AFTER = "1 day";

/**
 * A process's heartbeat in `process_heartbeats`: its identity, concurrency and counters,
 * upserted every `intervalMs` (default 5 s) with the database's clock, so the monitor can
 * tell a live process from a dead one without trusting the processes' clocks.
 */
export function createHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { db, role, concurrency } = options;
  const intervalMs = options.intervalMs ?? 5_000;
  const id = `${role}-${randomBytes(8).toString("hex")}`;
  const host = hostname();
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;

  const write = async (stopped: boolean) => {
    const { inFlight, processed, failed } = options.stats();
    const counters = { in_flight: inFlight, processed, failed };
    // An upsert, not an update: a row pruned while this process was cut off comes back.
    await db
      .insertInto("process_heartbeats")
      .values({
        id,
        role,
        host,
        pid: process.pid,
        interval_ms: intervalMs,
        concurrency,
        ...counters,
        beat_at: sql<Date>`now()`,
        stopped_at: stopped ? sql<Date>`now()` : null,
      })
      .onConflict((oc) =>
        oc.column("id").doUpdateSet({
          ...counters,
          beat_at: sql<Date>`now()`,
          stopped_at: stopped ? sql<Date>`now()` : null,
        }),
      )
      .execute();
  };

  const beat = () => {
    // A beat still waiting on a slow database is not stacked with another.
    if (beating) return;
    beating = write(false)
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        beating = undefined;
      });
  };

  return {
    id,
    async start() {
      await db
        .deleteFrom("process_heartbeats")
        .where("beat_at", "<", sql<Date>`now() - ${PRUNE_AFTER}::interval`)
        .execute();
      await write(false);
      timer = setInterval(beat, intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await beating;
      await write(true).catch((error: unknown) => options.onError?.(error));
    },
  };
}

export interface HeartbeatView {
  id: string;
  role: string;
  host: string;
  pid: number;
  started_at: Date;
  interval_ms: number;
  concurrency: number;
  in_flight: number;
  processed: number;
  failed: number;
  beat_at: Date;
  stopped_at: Date | null;
  /** online: beating; offline: no beat for three intervals (it died or is cut off); stopped: exited cleanly. */
  status: "online" | "offline" | "stopped";
  /** Seconds since the last beat, by the database's clock. */
  silent_seconds: number;
}

/** Every known process, online first, then by role and start time (newest first). */
export async function listHeartbeats(db: Kysely<Database>): Promise<HeartbeatView[]> {
  const status = sql<HeartbeatView["status"]>`CASE
    WHEN stopped_at IS NOT NULL THEN 'stopped'
    WHEN beat_at < now() - interval_ms * 3 * interval '1 millisecond' THEN 'offline'
    ELSE 'online' END`;
  return db
    .selectFrom("process_heartbeats")
    .selectAll()
    .select([
      status.as("status"),
      sql<number>`greatest(extract(epoch from now() - beat_at), 0)::float8`.as("silent_seconds"),
    ])
    .orderBy(sql`${status} = 'online'`, "desc")
    .orderBy("role")
    .orderBy("started_at", "desc")
    .execute();
}

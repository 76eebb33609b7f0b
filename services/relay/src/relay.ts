import {
  createQueueTableVacuum,
  type DatabaseHandle,
  deleteOutbox,
  OUTBOX_CHANNEL,
  type OutboxRow,
  postponeOutbox,
  type SessionLock,
  takeDueOutbox,
} from "@taskflow/db";
import { createSleeper, failpoint, type Logger, type Metrics } from "@taskflow/observability";

/** Publishes one destination's messages; resolves once the engine has confirmed them all. */
export type OutboxPublisher = (rows: readonly OutboxRow[]) => Promise<void>;

export interface RelayOptions {
  database: DatabaseHandle;
  /** One publisher per destination named in outbox rows. */
  publishers: Record<string, OutboxPublisher>;
  logger: Logger;
  metrics: Metrics;
  batchSize?: number;
  /** Longest sleep without a NOTIFY (also the retry pause after an engine error). */
  pollMs?: number;
  /** Deleted rows between two VACUUMs of the outbox (default: `defaultVacuumEvery`). */
  vacuumEvery?: number;
}

const LEADER_LOCK = "taskflow:outbox-relay";
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/**
 * The outbox relay: publishes committed outbox rows to their engines and deletes them once
 * confirmed. One relay publishes at a time (a session advisory lock); others stand by and
 * take over when its session ends. A crash between publish and delete publishes again
 * (at-least-once): consumers tolerate duplicates. It sleeps until NOTIFY, the next delayed
 * row, or the poll interval, whichever comes first.
 */
export function createRelay(options: RelayOptions) {
  const { database, logger, metrics } = options;
  const batchSize = options.batchSize ?? 500;
  const pollMs = options.pollMs ?? 1_000;
  let running = false;
  let loop: Promise<void> | undefined;
  /**
   * Besides clearing the dead rows, its ANALYZE makes PostgreSQL plan again every prepared
   * statement that writes the outbox (the API's create, the worker's claim and finish): plans
   * made while `tasks` was small scan it sequentially, and nothing else replaces them until
   * autovacuum gets to the table.
   */
  const vacuum = createQueueTableVacuum(database, "outbox", {
    every: options.vacuumEvery,
    onError: (error) => logger.warn({ err: error }, "outbox vacuum failed"),
  });
  let unlisten: (() => Promise<void>) | undefined;
  // Woken by NOTIFY (a commit wrote outbox rows), a reconnect, or stop().
  const sleeper = createSleeper();
  const nudge = () => sleeper.wake();
  const sleep = (ms: number) => sleeper.sleep(ms);

  /** Consecutive failures per destination: its rows wait longer each time, up to a minute. */
  const failures = new Map<string, number>();
  /** For the heartbeat: messages being published, published, and refused (tried again later). */
  const stats = { inFlight: 0, processed: 0, failed: 0 };

  /**
   * Publishes a batch destination by destination and returns the ids the engines confirmed
   * (the caller deletes them). What an engine refused is postponed with backoff, so one
   * engine that is down (a webhook receiver answering 500) does not hold back the others, nor
   * make them publish again every pass.
   */
  async function publishBatch(rows: OutboxRow[]) {
    const byDestination = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const list = byDestination.get(row.destination) ?? [];
      list.push(row);
      byDestination.set(row.destination, list);
    }
    stats.inFlight = rows.length;
    const outcomes = await Promise.allSettled(
      [...byDestination].map(async ([destination, list]) => {
        const publish = options.publishers[destination];
        if (!publish) throw new Error(`no publisher for outbox destination "${destination}"`);
        await publish(list);
        metrics.published.inc({ destination }, list.length);
      }),
    ).finally(() => {
      stats.inFlight = 0;
    });
    const published: number[] = [];
    for (const [i, [destination, list]] of [...byDestination].entries()) {
      const outcome = outcomes[i];
      if (outcome?.status === "fulfilled") {
        failures.delete(destination);
        for (const row of list) published.push(row.id);
        continue;
      }
      stats.failed += list.length;
      const attempt = (failures.get(destination) ?? 0) + 1;
      failures.set(destination, attempt);
      const delayMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
      logger.error(
        { err: outcome?.reason, destination, rows: list.length, retryInMs: delayMs },
        "relay: publish failed; those messages wait and are tried again",
      );
      await postponeOutbox(
        database.db,
        list.map((r) => r.id),
        delayMs,
      );
    }
    return published;
  }

  function deleted(count: number) {
    stats.processed += count;
    vacuum.deleted(count);
  }

  async function lead(lock: SessionLock) {
    // Published and confirmed, not deleted yet: the next read deletes them in its statement.
    let confirmed: number[] = [];
    while (running && lock.held) {
      sleeper.clear();
      try {
        const { due, nextDueInMs } = await takeDueOutbox(database.db, confirmed, batchSize);
        deleted(confirmed.length);
        confirmed = [];
        if (due.length > 0) {
          confirmed = await publishBatch(due);
          if (confirmed.length > 0) failpoint("relay.after-publish");
          // More is waiting (a full batch, or a commit's NOTIFY came while publishing): the
          // next read deletes these in the same round trip.
          if (due.length === batchSize || sleeper.woken) continue;
          await deleteOutbox(database.db, confirmed);
          deleted(confirmed.length);
          confirmed = [];
        }
        await sleep(Math.min(pollMs, nextDueInMs ?? pollMs));
      } catch (error) {
        logger.error({ err: error }, "relay: publish failed, retrying");
        await sleep(pollMs);
      }
    }
    // Stopping or no longer leading: what was confirmed is not published again by whoever leads next.
    await deleteOutbox(database.db, confirmed).catch((error: unknown) =>
      logger.warn({ err: error }, "relay: could not delete published messages (they go out again)"),
    );
  }

  async function run() {
    while (running) {
      const lock = await database.tryLock(LEADER_LOCK).catch((error: unknown) => {
        logger.warn({ err: error }, "relay: cannot reach the database");
        return undefined;
      });
      if (!lock) {
        await sleep(pollMs);
        continue;
      }
      logger.info("relay: leading (publishing the outbox)");
      try {
        await lead(lock);
      } finally {
        await lock.release();
      }
    }
  }

  return {
    /** The most outbox messages it publishes at once (one round). */
    batchSize,
    /** Outbox messages: being published now, published (confirmed and deleted), refused. */
    get stats() {
      return { ...stats };
    },
    async start() {
      running = true;
      unlisten = await database.listen(OUTBOX_CHANNEL, nudge);
      database.onReconnect(nudge);
      loop = run();
    },
    /** Finishes the batch in hand (published and deleted), then stops. */
    async stop() {
      running = false;
      sleeper.wake();
      await loop;
      await vacuum.settled();
      await unlisten?.();
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;

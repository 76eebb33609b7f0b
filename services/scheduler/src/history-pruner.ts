import type { Database, Kysely } from "@taskflow/db";
import { createSleeper, type Logger } from "@taskflow/observability";
import { type PruneResult, pruneHistory } from "@taskflow/tasks";

export interface HistoryPrunerOptions {
  db: Kysely<Database>;
  /** config.history.retentionDays */
  retentionDays: number;
  batchSize?: number;
  /** Between two passes (default an hour); the first pass runs at start. */
  intervalMs?: number;
  logger?: Logger;
}

/**
 * Runs pruneHistory at start and then every hour, in the background. A failed pass is
 * logged and the next one tries again; stop() ends a running pass after its current batch.
 */
export function createHistoryPruner(options: HistoryPrunerOptions) {
  const intervalMs = options.intervalMs ?? 3_600_000;
  let running = false;
  let loop: Promise<void> | undefined;
  let abort = new AbortController();

  async function pass(): Promise<PruneResult> {
    const pruned = await pruneHistory(options.db, {
      olderThanDays: options.retentionDays,
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      signal: abort.signal,
    });
    if (pruned.tasks > 0 || pruned.jobs > 0) {
      options.logger?.info({ ...pruned, retention_days: options.retentionDays }, "history pruned");
    }
    return pruned;
  }

  const sleeper = createSleeper();
  const sleep = (ms: number) => sleeper.sleep(ms);

  async function run() {
    while (running) {
      try {
        await pass();
      } catch (error) {
        options.logger?.error({ err: error }, "history pruner: pass failed, trying again later");
      }
      if (running) await sleep(intervalMs);
    }
  }

  return {
    pass,
    start() {
      if (running) return;
      running = true;
      abort = new AbortController();
      loop = run();
    },
    async stop() {
      running = false;
      abort.abort();
      sleeper.wake();
      await loop;
    },
  };
}

export type HistoryPruner = ReturnType<typeof createHistoryPruner>;

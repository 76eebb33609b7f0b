import type { DatabaseHandle } from "@taskflow/db";
import type { EventStream, StreamSubscription } from "@taskflow/messaging";
import type { Logger } from "@taskflow/observability";
import { type AnalyticsTotals, createAnalyticsRepository } from "./analytics.repository.ts";
import {
  ANALYTICS_GROUP,
  ANALYTICS_TOPICS,
  type AnalyticsConsumerStats,
  type AnalyticsTopics,
  analyticsBatchHandler,
  analyticsLockName,
} from "./analytics-consumer.ts";

/** A rebuild was refused: a consumer of the group is running (it holds the group's lock). */
export class AnalyticsBusyError extends Error {}

export interface RebuildOptions {
  stream: EventStream;
  database: DatabaseHandle;
  logger: Logger;
  group?: string;
  topics?: AnalyticsTopics;
  maxBatch?: number;
  /** Caught up once no batch came for this long after the last one (default 2 s). */
  quietMs?: number;
  /** Caught up if no batch came at all for this long (default 10 s: a Kafka group's first join). */
  firstBatchTimeoutMs?: number;
}

export interface RebuildSummary {
  /** Records read from the stream (every one, duplicates and ignored ones included). */
  records: number;
  counted: number;
  duplicates: number;
  ignored: number;
  elapsedMs: number;
  totals: AnalyticsTotals;
}

/**
 * `taskflow analytics rebuild`: recomputes the aggregates from the start of the stream. With
 * the group's lock (refused, AnalyticsBusyError, while a consumer holds it): moves the group's
 * offsets back to the beginning, empties the aggregates and the group's processed ids, then
 * reads both topics as the group until they have been quiet for `quietMs`, committing as the
 * consumer does. It is exactly-once at every step: killed midway, the offsets and the counted
 * ids agree, and the analytics role (or another rebuild) carries on from there; events
 * appended after it finished are read by the role, from the committed offsets.
 */
export async function rebuildAnalytics(options: RebuildOptions): Promise<RebuildSummary> {
  const { stream, database, logger } = options;
  const group = options.group ?? ANALYTICS_GROUP;
  const topics = options.topics ?? ANALYTICS_TOPICS;
  const quietMs = options.quietMs ?? 2_000;
  const firstBatchTimeoutMs = options.firstBatchTimeoutMs ?? 10_000;
  const started = Date.now();
  const lock = await database.tryLock(analyticsLockName(group));
  if (!lock) {
    throw new AnalyticsBusyError(
      `an analytics consumer of group "${group}" is running: stop it (\`taskflow analytics\`, or \`taskflow start\`) before a rebuild`,
    );
  }
  const repository = createAnalyticsRepository(database.db);
  const subscriptions: StreamSubscription[] = [];
  try {
    // Offsets first: if emptying the tables then failed, the replay would find every id
    // counted and change nothing; the other way round, the role would resume without history.
    for (const topic of [topics.orders, topics.tasks]) await stream.resetGroup(topic, group);
    await repository.reset(group);
    logger.info({ group, topics }, "analytics emptied; reading the stream from the beginning");

    const stats: AnalyticsConsumerStats = {
      inFlight: 0,
      processed: 0,
      failed: 0,
      duplicates: 0,
      ignored: 0,
    };
    let records = 0;
    let lastBatchAt: number | undefined;
    for (const topic of [topics.orders, topics.tasks]) {
      const handle = analyticsBatchHandler(topic, { repository, group, logger, stats });
      subscriptions.push(
        await stream.consume(
          topic,
          group,
          async (batch) => {
            lastBatchAt = Date.now();
            await handle(batch);
            records += batch.length;
            lastBatchAt = Date.now();
          },
          { maxBatch: options.maxBatch ?? 500 },
        ),
      );
    }
    const readingSince = Date.now();
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (!lock.held) throw new Error("the analytics lock was lost (database session dropped)");
      const now = Date.now();
      if (stats.inFlight > 0) continue;
      if (
        lastBatchAt === undefined
          ? now - readingSince >= firstBatchTimeoutMs
          : now - lastBatchAt >= quietMs
      )
        break;
    }
    // Each subscription commits the batch it may still hold before it stops.
    await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
    return {
      records,
      counted: stats.processed,
      duplicates: stats.duplicates,
      ignored: stats.ignored,
      elapsedMs: Date.now() - started,
      totals: await repository.totals(group),
    };
  } finally {
    await Promise.all(subscriptions.map((s) => s.stop().catch(() => {})));
    await lock.release();
  }
}

/** One line for the operator: what the rebuild read and the totals it arrived at. */
export function formatRebuildSummary(summary: RebuildSummary): string {
  const { totals } = summary;
  const revenue = Object.entries(totals.revenueCents)
    .map(([currency, cents]) => `${currency} ${cents}`)
    .join(", ");
  return (
    `analytics rebuilt in ${(summary.elapsedMs / 1000).toFixed(1)} s: ${summary.records} records read, ` +
    `${summary.counted} events counted, ${summary.duplicates} duplicates, ${summary.ignored} ignored; ` +
    `orders ${totals.orders} (revenue_cents ${revenue || "none"}); ` +
    `tasks completed ${totals.tasksCompleted}, failed ${totals.tasksFailed}`
  );
}

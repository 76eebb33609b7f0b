import type { DatabaseHandle, SessionLock } from "@taskflow/db";
import type { EventStream, StoredRecord, StreamSubscription } from "@taskflow/messaging";
import {
  endSpan,
  failpoint,
  type Logger,
  type Metrics,
  type Span,
  startMessagingSpan,
  type Tracer,
  traceparentFrom,
} from "@taskflow/observability";
import { ORDERS_TOPIC } from "@taskflow/orders";
import { TASKS_TOPIC } from "@taskflow/tasks";
import { type AnalyticsRepository, createAnalyticsRepository } from "./analytics.repository.ts";
import { analyticsFacts } from "./analytics-events.ts";

/** The analytics service's consumer group on the event stream (and its processed-ids scope). */
export const ANALYTICS_GROUP = "analytics";

/** The topics it reads, by role. */
export interface AnalyticsTopics {
  orders: string;
  tasks: string;
}

export const ANALYTICS_TOPICS: AnalyticsTopics = { orders: ORDERS_TOPIC, tasks: TASKS_TOPIC };

/**
 * The advisory lock held by whoever feeds the aggregates of `group`: the running consumer, or
 * a rebuild. One at a time — a rebuild must never run beside a consumer of its group.
 */
export const analyticsLockName = (group: string) => `taskflow.analytics.${group}`;

export interface AnalyticsConsumerStats {
  /** Records being handled. */
  inFlight: number;
  /** Events counted (each exactly once). */
  processed: number;
  /** Batches whose transaction failed (they come again). */
  failed: number;
  /** Events seen again, already counted: skipped. */
  duplicates: number;
  /** Records not counted: other event types, other versions, malformed. */
  ignored: number;
}

export interface BatchHandlerOptions {
  repository: AnalyticsRepository;
  group: string;
  logger: Logger;
  metrics?: Metrics;
  stats: AnalyticsConsumerStats;
  /** Told after each batch is counted (its offsets are committed next). */
  onCounted?: () => void;
  /** The stream's engine, for spans' `messaging.system`. */
  engine?: string;
  /**
   * Tracing on: a CONSUMER span per record, child of the context in its headers, lasting
   * as long as its batch's transaction (the batch is one unit of work).
   */
  tracer?: Tracer | undefined;
}

function recordSpans(topic: string, batch: readonly StoredRecord[], options: BatchHandlerOptions) {
  const { tracer } = options;
  if (!tracer) return undefined;
  const system = options.engine === "embedded" ? "taskflow.embedded" : (options.engine ?? "stream");
  return batch.map((record) =>
    startMessagingSpan(
      tracer,
      {
        system,
        destination: topic,
        operation: "process",
        messageId: record.id,
        consumerGroup: options.group,
        batchSize: batch.length,
      },
      { parent: traceparentFrom(record.headers) },
    ),
  );
}

function endSpans(spans: Span[] | undefined, error?: unknown) {
  if (spans) for (const span of spans) endSpan(span, error);
}

/**
 * The stream handler of one topic: the batch's facts counted in one transaction; resolving
 * lets the stream commit the offsets, rejecting has the batch delivered again.
 */
export function analyticsBatchHandler(topic: string, options: BatchHandlerOptions) {
  const { repository, group, logger, metrics, stats } = options;
  const queue = `${group}.${topic}`;
  return async (batch: readonly StoredRecord[]) => {
    stats.inFlight += batch.length;
    const spans = recordSpans(topic, batch, options);
    try {
      const { facts, ignored } = analyticsFacts(batch);
      for (const { eventId, reason, foreign } of ignored) {
        // Other event types may share the topic; a malformed or unknown version is news.
        if (foreign) logger.debug({ topic, eventId, reason }, "event not counted");
        else logger.warn({ topic, eventId, reason }, "event not counted");
      }
      const { applied, duplicates } = await repository.apply(group, facts);
      failpoint("analytics.after-commit");
      stats.processed += applied;
      stats.duplicates += duplicates;
      stats.ignored += ignored.length;
      metrics?.consumed.inc({ queue, outcome: "ack" }, applied);
      metrics?.consumed.inc({ queue, outcome: "skip" }, duplicates + ignored.length);
      options.onCounted?.();
      endSpans(spans);
    } catch (error) {
      endSpans(spans, error);
      stats.failed++;
      metrics?.consumed.inc({ queue, outcome: "retry" }, batch.length);
      logger.error({ err: error, topic, records: batch.length }, "analytics batch not counted");
      throw error;
    } finally {
      stats.inFlight -= batch.length;
    }
  };
}

export interface AnalyticsConsumerOptions {
  stream: EventStream;
  database: DatabaseHandle;
  logger: Logger;
  metrics?: Metrics;
  group?: string;
  topics?: AnalyticsTopics;
  /** Most records per batch (and per transaction); default 500. */
  maxBatch?: number;
  retryDelayMs?: number;
  /** How often a standby looks for the lock, and the holder checks it still has it (2 s). */
  lockPollMs?: number;
  /** How long processed event ids are kept for dedupe (7 days); forgotten hourly after that. */
  keepProcessedIdsMs?: number;
  /** Tracing on: a CONSUMER span per record (see BatchHandlerOptions.tracer). */
  tracer?: Tracer | undefined;
}

const FORGET_EVERY_MS = 60 * 60_000;

/**
 * The analytics consumer: reads the `orders` and `tasks` topics as group `analytics` and counts
 * every event exactly once (its id and its effect in one transaction; offsets committed after,
 * by the stream). One consumer of a group counts at a time: it holds the group's advisory lock;
 * another one stands by and takes over when the lock is free (the holder stopped or its
 * database session died). The topics must exist.
 */
export function createAnalyticsConsumer(options: AnalyticsConsumerOptions) {
  const { stream, database, logger } = options;
  const group = options.group ?? ANALYTICS_GROUP;
  const topics = options.topics ?? ANALYTICS_TOPICS;
  const maxBatch = options.maxBatch ?? 500;
  const lockPollMs = options.lockPollMs ?? 2_000;
  const repository = createAnalyticsRepository(database.db);
  const stats: AnalyticsConsumerStats = {
    inFlight: 0,
    processed: 0,
    failed: 0,
    duplicates: 0,
    ignored: 0,
  };
  let lock: SessionLock | undefined;
  let subscriptions: StreamSubscription[] = [];
  let timer: NodeJS.Timeout | undefined;
  let forgetTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const keepProcessedIdsMs = options.keepProcessedIdsMs ?? 7 * 24 * 60 * 60_000;
  // Topics with a batch counted since this consumer took over. A batch a dead consumer left
  // uncommitted is the first one read after a take-over: once every topic has had one, no
  // old event can come again (only a rebuild replays, and it clears the ids itself), so ids
  // past the retention can be forgotten.
  const countedTopics = new Set<string>();
  // One transition (take over, step down) at a time.
  let transition: Promise<void> = Promise.resolve();

  async function takeOver() {
    const taken = await database.tryLock(analyticsLockName(group));
    if (!taken) return;
    lock = taken;
    countedTopics.clear();
    try {
      for (const topic of [topics.orders, topics.tasks]) {
        const handle = analyticsBatchHandler(topic, {
          repository,
          group,
          logger,
          ...(options.metrics ? { metrics: options.metrics } : {}),
          engine: stream.engine,
          tracer: options.tracer,
          stats,
          onCounted: () => countedTopics.add(topic),
        });
        subscriptions.push(
          await stream.consume(topic, group, handle, {
            maxBatch,
            ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
          }),
        );
      }
    } catch (error) {
      await stepDown();
      throw error;
    }
    logger.info({ group, topics, engine: stream.engine }, "analytics consuming");
  }

  /** Stops reading; each batch in hand is counted and committed first. Then frees the lock. */
  async function stepDown() {
    const running = subscriptions;
    subscriptions = [];
    await Promise.all(running.map((s) => s.stop()));
    await lock?.release();
    lock = undefined;
  }

  /** Forgets processed ids past the retention, while this consumer counts (see countedTopics). */
  async function forgetOldIds(): Promise<number> {
    if (!lock?.held || countedTopics.size < 2) return 0;
    const before = new Date(Date.now() - keepProcessedIdsMs);
    let forgotten = 0;
    for (;;) {
      const n = await repository.forgetProcessed(group, before);
      forgotten += n;
      if (n < 10_000) return forgotten;
    }
  }

  function step() {
    transition = transition.then(async () => {
      if (stopped) return;
      try {
        if (!lock) await takeOver();
        else if (!lock.held) {
          logger.warn({ group }, "analytics lock lost (database session dropped): standing by");
          await stepDown();
        }
      } catch (error) {
        logger.error({ err: error, group }, "analytics could not start consuming");
      }
    });
    return transition;
  }

  return {
    stats,
    /** Counting (it holds the group's lock), or standing by. */
    get active() {
      return lock?.held === true && subscriptions.length > 0;
    },
    /** Records it may hold at once (both topics' batches). */
    concurrency: maxBatch * 2,
    /** Takes the lock and starts reading, or stands by; resolves once it is one or the other. */
    async start() {
      await step();
      if (!lock) logger.info({ group }, "another analytics consumer holds the group: standing by");
      timer = setInterval(() => void step(), lockPollMs);
      timer.unref();
      forgetTimer = setInterval(() => {
        forgetOldIds().catch((error: unknown) =>
          logger.warn({ err: error, group }, "could not forget old processed event ids"),
        );
      }, FORGET_EVERY_MS);
      forgetTimer.unref();
    },
    /** Forgets the processed ids past the retention now (it runs hourly); returns how many. */
    forgetOldIds,
    /** Stops reading: the batches in hand are counted and committed, then the lock is freed. */
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearInterval(forgetTimer);
      await transition;
      await stepDown();
    },
  };
}

export type AnalyticsConsumer = ReturnType<typeof createAnalyticsConsumer>;

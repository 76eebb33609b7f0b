import type { Config } from "@taskflow/config";
import { type Database, type Kysely, listHeartbeats, sql } from "@taskflow/db";
import type { JobQueue, TaskQueue } from "@taskflow/messaging";

export type AlertSeverity = "warning" | "critical";

/** What a rule saw on one pass. */
export interface AlertMeasurement {
  /** Whether the rule's condition holds now. */
  firing: boolean;
  /** The measured figure the threshold applies to (a count, a share, seconds). */
  value: number;
  threshold: number;
  /** One line for a person, with the figures that matter. */
  summary: string;
}

export interface AlertRule {
  /** Stable: the key of its state and part of every notification's identity. */
  readonly name: string;
  readonly severity: AlertSeverity;
  measure(): Promise<AlertMeasurement>;
}

/** The failure rate is judged over this window … */
export const FAILURE_WINDOW_MINUTES = 5;
/** … and only with at least this many finished tasks in it (1 failure of 2 pages no one). */
export const FAILURE_MIN_FINISHED = 20;

export interface AlertRuleSources {
  db: Kysely<Database>;
  taskQueue: TaskQueue;
  jobQueue: JobQueue;
  config: Config["alerts"];
}

/** The rules TaskFlow evaluates by default, in the order they are measured. */
export function defaultAlertRules(sources: AlertRuleSources): AlertRule[] {
  const { db, taskQueue, jobQueue, config } = sources;
  return [
    deadLettersRule(taskQueue, jobQueue, config.deadLetters),
    failureRateRule(db, config.failureRate),
    backlogWithoutProcessesRule({
      name: "task_backlog_without_workers",
      what: "task messages",
      role: "worker",
      waiting: async () => (await taskQueue.stats()).waiting,
      db,
    }),
    backlogWithoutProcessesRule({
      name: "job_backlog_without_mailers",
      what: "jobs",
      role: "mailer",
      waiting: async () => (await jobQueue.counts()).waiting,
      db,
    }),
    streamLagRule({
      name: "outbox_lag",
      stream: "the outbox (published by the relay)",
      thresholdSeconds: config.lagSeconds,
      measure: () => outboxOverdue(db),
    }),
  ];
}

/** Task messages in the dead-letter queue plus failed jobs, above the allowed count. */
export function deadLettersRule(
  taskQueue: TaskQueue,
  jobQueue: JobQueue,
  threshold: number,
): AlertRule {
  return {
    name: "dead_letters",
    severity: "warning",
    async measure() {
      const [tasks, jobs] = await Promise.all([taskQueue.stats(), jobQueue.counts()]);
      const value = tasks.deadLettered + jobs.failed;
      return {
        firing: value > threshold,
        value,
        threshold,
        summary: `${value} dead letters (${tasks.deadLettered} task messages, ${jobs.failed} failed jobs); allowed: ${threshold}`,
      };
    },
  };
}

/** The share of the tasks finished in the last minutes that FAILED (CANCELLED ones do not count). */
export function failureRateRule(db: Kysely<Database>, threshold: number): AlertRule {
  return {
    name: "failure_rate",
    severity: "critical",
    async measure() {
      // An index range on tasks_finished_at_idx, by the database's clock (the one that set finished_at).
      const { rows } = await sql<{ finished: number; failed: number }>`
        SELECT count(*)::int AS finished,
               count(*) FILTER (WHERE status = 'FAILED')::int AS failed
        FROM tasks
        WHERE finished_at IS NOT NULL
          AND finished_at > now() - make_interval(mins => ${FAILURE_WINDOW_MINUTES})
          AND status IN ('DONE', 'FAILED')
      `.execute(db);
      const { finished, failed } = rows[0] ?? { finished: 0, failed: 0 };
      const value = finished === 0 ? 0 : failed / finished;
      const enough = finished >= FAILURE_MIN_FINISHED;
      const window = `the last ${FAILURE_WINDOW_MINUTES} minutes`;
      return {
        firing: enough && value > threshold,
        value,
        threshold,
        summary: enough
          ? `${percent(value)} of the ${finished} tasks finished in ${window} failed (${failed}); allowed: ${percent(threshold)}`
          : `${failed} of ${finished} tasks finished in ${window} failed (fewer than ${FAILURE_MIN_FINISHED} finished: not judged)`,
      };
    },
  };
}

/** Work waiting while no process of the role that takes it is online (by heartbeat). */
export function backlogWithoutProcessesRule(options: {
  name: string;
  /** "task messages", "jobs": for the summary. */
  what: string;
  /** The heartbeat role that takes this work. */
  role: string;
  waiting: () => Promise<number>;
  db: Kysely<Database>;
}): AlertRule {
  return {
    name: options.name,
    severity: "critical",
    async measure() {
      const [waiting, online] = await Promise.all([
        options.waiting(),
        onlineProcesses(options.db, options.role),
      ]);
      return {
        firing: waiting > 0 && online === 0,
        value: waiting,
        threshold: 0,
        summary: `${waiting} ${options.what} waiting, ${online} ${options.role} processes online`,
      };
    },
  };
}

/** How far a stream's consumer is behind. */
export interface StreamLag {
  /** How long the oldest unconsumed message has been waiting. */
  lagSeconds: number;
  /** Messages waiting. */
  pending: number;
}

/**
 * A consumer that falls behind its stream: the oldest message waits longer than the threshold.
 * Today's stream is the outbox, whose consumer is the relay; a Kafka consumer group (a later
 * issue) is another `streamLagRule` with its own `measure`, added to the evaluator's rules.
 */
export function streamLagRule(options: {
  name: string;
  /** What is consumed, for the summary. */
  stream: string;
  thresholdSeconds: number;
  measure: () => Promise<StreamLag>;
}): AlertRule {
  return {
    name: options.name,
    severity: "critical",
    async measure() {
      const { lagSeconds, pending } = await options.measure();
      const value = Math.round(lagSeconds * 10) / 10;
      return {
        firing: lagSeconds > options.thresholdSeconds,
        value,
        threshold: options.thresholdSeconds,
        summary: `${options.stream}: the oldest of ${pending} due messages has waited ${value} s; allowed: ${options.thresholdSeconds} s`,
      };
    },
  };
}

/**
 * How long the oldest due outbox message has been due. Counted from `available_at`, not
 * `created_at`: a retry written minutes ago with a backoff is not late the moment it is due.
 */
export async function outboxOverdue(db: Kysely<Database>): Promise<StreamLag> {
  const row = await db
    .selectFrom("outbox")
    .select([
      sql<number>`count(*)::int`.as("pending"),
      sql<number>`coalesce(extract(epoch from now() - min(available_at)), 0)::float8`.as("lag"),
    ])
    .where("available_at", "<=", sql<Date>`now()`)
    .executeTakeFirstOrThrow();
  return { pending: row.pending, lagSeconds: Math.max(0, row.lag) };
}

/** Processes of a role whose heartbeat is current (the monitor's definition of online). */
export async function onlineProcesses(db: Kysely<Database>, role: string): Promise<number> {
  const processes = await listHeartbeats(db);
  return processes.filter((p) => p.role === role && p.status === "online").length;
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

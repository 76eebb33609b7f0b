import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** Column types of the TaskFlow schema, kept in step with ./migrations by hand (reviewed with them). */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string, string>;

export const TASK_STATUSES = [
  "PENDING",
  "PROCESSING",
  "RETRYING",
  "DONE",
  "FAILED",
  "CANCELLED",
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  created_at: Generated<Date>;
}

export interface TasksTable {
  id: string;
  owner_id: string;
  type: string;
  title: string | null;
  payload: Json;
  status: TaskStatus;
  attempts: Generated<number>;
  max_attempts: number;
  result: Json | null;
  last_error: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  /** Not to start before (a scheduled task); null: as soon as possible. */
  run_at: Timestamp | null;
  /** 0 (most urgent) … 9; 5 by default. */
  priority: Generated<number>;
}

/** A recurring task: a cron expression in a time zone, and the task to create at each tick. */
export interface SchedulesTable {
  id: string;
  owner_id: string;
  name: string;
  cron: string;
  timezone: string;
  task_type: string;
  task_title: string | null;
  task_payload: Json;
  task_max_attempts: number;
  task_priority: Generated<number>;
  paused: Generated<boolean>;
  /** The tick the schedule fires next (its identity: one task per tick). */
  next_run_at: Timestamp;
  last_run_at: Timestamp | null;
  last_task_id: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** Per-owner running counts by status, kept in the same transactions that move tasks. */
export interface TaskCountsTable {
  owner_id: string;
  status: TaskStatus;
  count: number;
}

/**
 * Transactional outbox: a row here is a message promised to an engine. The relay publishes
 * it once `available_at` has passed and deletes it once the engine has confirmed it.
 */
export interface OutboxTable {
  id: Generated<number>;
  destination: string;
  message_key: string | null;
  payload: Json;
  headers: ColumnType<Record<string, string>, string | undefined, string>;
  available_at: Timestamp;
  created_at: Generated<Date>;
}

/** The embedded task queue's messages (used when no RabbitMQ is configured). */
export interface QueueMessagesTable {
  id: Generated<number>;
  queue: string;
  message_id: string;
  body: Json;
  headers: ColumnType<Record<string, string>, string | undefined, string>;
  deliveries: Generated<number>;
  visible_at: Timestamp;
  created_at: Generated<Date>;
  /** 0 (most urgent) … 9: taken in this order, then oldest first. */
  priority: Generated<number>;
}

export interface QueueDeadLettersTable {
  id: Generated<number>;
  queue: string;
  message_id: string;
  body: Json;
  headers: ColumnType<Record<string, string>, string, string>;
  reason: string;
  deliveries: number;
  dead_at: Generated<Date>;
}

/** The embedded job queue's jobs (used when no Redis is configured); see the job_queue migration. */
export type QueueJobState = "waiting" | "active" | "completed" | "failed";

export interface QueueJobsTable {
  queue: string;
  id: string;
  seq: Generated<number>;
  name: string;
  data: Json;
  /** "Delayed" is derived: `waiting` with `run_at` in the future. */
  state: QueueJobState;
  priority: number;
  attempts_made: Generated<number>;
  max_attempts: number;
  backoff_ms: number;
  run_at: Timestamp;
  /** The lease of an `active` job: past it, its processor is presumed gone. */
  locked_until: Timestamp | null;
  failed_reason: string | null;
  result: Json | null;
  created_at: Generated<Date>;
  finished_at: Timestamp | null;
}

/**
 * The embedded mail sink's messages (used when no SMTP server is configured). Append-only:
 * a resend with the same Message-ID is another row.
 */
export interface MailSinkTable {
  id: Generated<number>;
  message_id: string;
  from_address: string;
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string;
  created_at: Generated<Date>;
}

/** One row per running worker or mailer process (see heartbeats.ts). */
export interface ProcessHeartbeatsTable {
  /** Random per process start. */
  id: string;
  role: string;
  host: string;
  pid: number;
  started_at: Timestamp;
  interval_ms: number;
  concurrency: number;
  in_flight: Generated<number>;
  processed: Generated<number>;
  failed: Generated<number>;
  beat_at: Timestamp;
  /** Set by a clean shutdown. */
  stopped_at: Timestamp | null;
}

/** What operators did through the monitor; append-only. */
export interface AuditLogTable {
  id: Generated<number>;
  at: Generated<Date>;
  actor_id: string;
  actor_email: string;
  /** e.g. "task.retry", "dead-letters.redrive". */
  action: string;
  /** What it was done to, e.g. "task:<id>", "job:<id>", "task-queue". */
  target: string;
  details: Json;
}

/** The alert evaluator's state per rule (services/alerts): notifications go out when `firing` flips. */
export interface AlertStatesTable {
  /** The rule's stable name, e.g. "dead_letters". */
  rule: string;
  firing: boolean;
  /** The last measured value. */
  value: number;
  /** When the current state (firing or not) began. */
  since: Timestamp;
  last_notified_at: Timestamp | null;
}

/** A job's state in the history: the engines' states, "delayed" stored as such. */
export type JobHistoryState = "waiting" | "delayed" | "active" | "completed" | "failed";

/**
 * Every background job's history, whatever engine runs it (see the job_history migration):
 * written by `withJobHistory` (packages/messaging), pruned by the retention.
 */
export interface JobHistoryTable {
  queue: string;
  job_id: string;
  name: string;
  state: JobHistoryState;
  priority: Generated<number>;
  attempts_made: Generated<number>;
  max_attempts: number;
  data: Json;
  result: Json | null;
  failed_reason: string | null;
  created_at: Generated<Date>;
  /** Delayed when added: not before this time. */
  run_at: Timestamp | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  /** Purged from the engine; the history stays. */
  removed_at: Timestamp | null;
  updated_at: Generated<Date>;
}

export interface Database {
  users: UsersTable;
  tasks: TasksTable;
  task_counts: TaskCountsTable;
  outbox: OutboxTable;
  queue_messages: QueueMessagesTable;
  queue_dead_letters: QueueDeadLettersTable;
  queue_jobs: QueueJobsTable;
  mail_sink: MailSinkTable;
  process_heartbeats: ProcessHeartbeatsTable;
  audit_log: AuditLogTable;
  job_history: JobHistoryTable;
  schedules: SchedulesTable;
  alert_states: AlertStatesTable;
}

export type UserRow = Selectable<UsersTable>;
export type TaskRow = Selectable<TasksTable>;
export type NewTaskRow = Insertable<TasksTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type ProcessHeartbeatRow = Selectable<ProcessHeartbeatsTable>;
export type AuditLogRow = Selectable<AuditLogTable>;
export type JobHistoryRow = Selectable<JobHistoryTable>;
export type ScheduleRow = Selectable<SchedulesTable>;
export type AlertStateRow = Selectable<AlertStatesTable>;

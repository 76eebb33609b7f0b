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
  /** W3C trace context of the request that created it (its journey's trace id); null: none. */
  traceparent: Generated<string | null>;
  /** When it was first claimed (`started_at` is the latest attempt's). */
  first_started_at: Generated<Date | null>;
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

/** The embedded event bus: a subscriber queue bound to a routing-key pattern (AMQP topic). */
export interface BusBindingsTable {
  exchange: string;
  queue: string;
  pattern: string;
  created_at: Generated<Date>;
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
  /** Message headers (the W3C trace context). */
  headers: ColumnType<Record<string, string>, string | undefined, string>;
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

/** The mailer's ledger: an email handed to the mail server, by its stable Message-ID. */
export interface SentEmailsTable {
  message_id: string;
  sent_at: Generated<Date>;
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

/** The product catalog (services/validator); validation reads the stock, never reserves it. */
export interface ProductsTable {
  /** Upper-case letters, digits and dashes, e.g. "KB-101". */
  sku: string;
  name: string;
  /** bigint in PostgreSQL; read as a JS number like every int8 here (exact below 2^53). */
  price_cents: number;
  /** ISO 4217, e.g. "EUR". */
  currency: string;
  /** ≥ 0. */
  stock: number;
}

/** The embedded event stream's topics (see the event_stream migration); partitions are fixed at creation. */
export interface StreamTopicsTable {
  topic: string;
  partitions: number;
  created_at: Generated<Date>;
}

/** One row per topic partition: the offset its next record gets (taken under the row lock). */
export interface StreamPartitionsTable {
  topic: string;
  partition: number;
  next_offset: Generated<number>;
}

/** The embedded event stream's log: append-only, one offset sequence per partition. */
export interface StreamRecordsTable {
  topic: string;
  partition: number;
  offset: number;
  event_id: string;
  key: string;
  value: Json;
  headers: ColumnType<Record<string, string>, string | undefined, string>;
  appended_at: Generated<Date>;
}

/** Each consumer group's committed offsets: the next offset it reads, per partition. */
export interface StreamGroupOffsetsTable {
  topic: string;
  consumer_group: string;
  partition: number;
  next_offset: number;
  committed_at: Generated<Date>;
}

/** A line of an order, priced by the validator. */
export interface OrderLine {
  sku: string;
  name: string;
  quantity: number;
  unit_price_cents: number;
  line_total_cents: number;
}

export interface OrdersTable {
  id: string;
  owner_id: string;
  status: "CONFIRMED";
  items: ColumnType<OrderLine[], string, string>;
  /** bigint; read as a JS number (exact below 2^53 cents). */
  total_cents: number;
  currency: string;
  note: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: Generated<Date>;
  /** W3C trace context of the request that placed it; null: none. */
  traceparent: Generated<string | null>;
  /** How long the validator took to check and price it (gRPC), in milliseconds. */
  validated_ms: Generated<number | null>;
}

export interface NotificationsTable {
  id: string;
  owner_id: string;
  /** The event it was made from (unique: one notification per event). */
  event_id: string;
  kind: string;
  title: string;
  body: string;
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
  read_at: Date | null;
  created_at: Generated<Date>;
}

/** The event ids the analytics service has counted, per consumer group (see the analytics migration). */
export interface AnalyticsProcessedEventsTable {
  consumer: string;
  event_id: string;
  processed_at: Generated<Date>;
}

/** Orders and revenue per minute (of the order's created_at, UTC) and currency. */
export interface AnalyticsOrderMinutesTable {
  minute: Timestamp;
  currency: string;
  orders: number;
  revenue_cents: number;
}

/** Units and revenue per product, minute and currency; `name` as the last counted order had it. */
export interface AnalyticsProductMinutesTable {
  minute: Timestamp;
  sku: string;
  currency: string;
  name: string;
  quantity: number;
  revenue_cents: number;
}

/** Tasks that reached DONE (completed) or FAILED per minute of their finished_at. */
export interface AnalyticsTaskMinutesTable {
  minute: Timestamp;
  completed: number;
  failed: number;
}

/** Time-to-DONE histogram per minute: `count` tasks in `bucket`, whose representative is `value_ms`. */
export interface AnalyticsTaskDurationsTable {
  minute: Timestamp;
  bucket: number;
  value_ms: number;
  count: number;
}

export interface Database {
  users: UsersTable;
  tasks: TasksTable;
  task_counts: TaskCountsTable;
  outbox: OutboxTable;
  queue_messages: QueueMessagesTable;
  queue_dead_letters: QueueDeadLettersTable;
  bus_bindings: BusBindingsTable;
  queue_jobs: QueueJobsTable;
  mail_sink: MailSinkTable;
  sent_emails: SentEmailsTable;
  process_heartbeats: ProcessHeartbeatsTable;
  audit_log: AuditLogTable;
  job_history: JobHistoryTable;
  schedules: SchedulesTable;
  alert_states: AlertStatesTable;
  stream_topics: StreamTopicsTable;
  stream_partitions: StreamPartitionsTable;
  stream_records: StreamRecordsTable;
  stream_group_offsets: StreamGroupOffsetsTable;
  products: ProductsTable;
  orders: OrdersTable;
  notifications: NotificationsTable;
  analytics_processed_events: AnalyticsProcessedEventsTable;
  analytics_order_minutes: AnalyticsOrderMinutesTable;
  analytics_product_minutes: AnalyticsProductMinutesTable;
  analytics_task_minutes: AnalyticsTaskMinutesTable;
  analytics_task_durations: AnalyticsTaskDurationsTable;
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
export type ProductRow = Selectable<ProductsTable>;
export type OrderRow = Selectable<OrdersTable>;
export type NotificationRow = Selectable<NotificationsTable>;

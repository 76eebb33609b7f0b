import { type Static, Type } from "@sinclair/typebox";
import { JOB_STATES } from "@taskflow/messaging";
import { TASK_STATUSES } from "@taskflow/tasks";
import { TaskSchema } from "../tasks/task.schemas.ts";

const Timestamp = Type.String({ format: "date-time" });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
const Count = Type.Integer({ minimum: 0 });
const NullableCount = Type.Union([Count, Type.Null()]);
const Cursor = Type.String({ maxLength: 200, description: "next_cursor of the previous page" });
const Limit = Type.Integer({ minimum: 1, maximum: 100, default: 20 });
const Page = (item: ReturnType<typeof Type.Ref>) =>
  Type.Object({
    items: Type.Array(item),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: "Pass as ?cursor= for the next page",
    }),
  });

export const QueueInfoSchema = Type.Object(
  {
    name: Type.String(),
    engine: Type.String({ examples: ["rabbitmq", "redis", "embedded"] }),
    kind: Type.Union([Type.Literal("tasks"), Type.Literal("jobs")]),
    waiting: Type.Integer({ minimum: 0, description: "Ready to be taken (the engine's count)" }),
    delayed: NullableCount,
    in_flight: Type.Union([Count, Type.Null()], {
      description: "tasks: PROCESSING tasks (from the counters); jobs: active jobs",
    }),
    consumers: Type.Union([Count, Type.Null()], {
      description: "As the engine reports them; null where it does not (job queues)",
    }),
    dead_lettered: Type.Integer({
      minimum: 0,
      description: "tasks: messages in the dead-letter queue; jobs: failed jobs",
    }),
    completed: NullableCount,
    finished_last_minute: Type.Union(
      [
        Type.Object({
          DONE: Count,
          FAILED: Count,
          CANCELLED: Count,
        }),
        Type.Null(),
      ],
      { description: "tasks: tasks that finished in the last 60 s, by status" },
    ),
  },
  { $id: "MonitorQueue", title: "MonitorQueue" },
);

export const WorkerProcessSchema = Type.Object(
  {
    id: Type.String(),
    role: Type.String({ description: "api, relay, worker, mailer, scheduler or alerts" }),
    host: Type.String(),
    pid: Type.Integer(),
    status: Type.Union([Type.Literal("online"), Type.Literal("offline"), Type.Literal("stopped")], {
      description: "offline: no heartbeat for three intervals; stopped: it exited cleanly",
    }),
    online: Type.Boolean(),
    concurrency: Type.Integer({
      description:
        "The most it has in flight: handlers (worker, mailer), messages per publish round (relay), 1 (scheduler, alerts); 0: no fixed limit (api)",
    }),
    in_flight: Count,
    processed: Count,
    failed: Count,
    started_at: Timestamp,
    beat_at: Timestamp,
    stopped_at: NullableTimestamp,
    heartbeat_interval_ms: Type.Integer(),
    silent_seconds: Type.Number({ description: "Since the last heartbeat" }),
  },
  { $id: "MonitorWorker", title: "MonitorWorker" },
);

const jobStateLiterals = () => JOB_STATES.map((s) => Type.Literal(s));

export const MonitorJobSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: Type.Union(jobStateLiterals()),
    data: Type.Unknown(),
    attempts_made: Type.Integer(),
    max_attempts: Type.Integer(),
    priority: Type.Integer(),
    failed_reason: Type.Union([Type.String(), Type.Null()]),
    result: Type.Unknown(),
    created_at: Timestamp,
    run_at: NullableTimestamp,
    finished_at: NullableTimestamp,
    started_at: Type.Optional(
      Type.Union([Timestamp, Type.Null()], {
        description: "From the history: when the last attempt started",
      }),
    ),
    removed_at: Type.Optional(
      Type.Union([Timestamp, Type.Null()], {
        description: "From the history: when it was purged from the engine (the history stays)",
      }),
    ),
    updated_at: Type.Optional(
      Type.String({ format: "date-time", description: "From the history: its last change" }),
    ),
  },
  { $id: "MonitorJob", title: "MonitorJob" },
);

/** A task as its owner sees it (the Task schema), plus whose it is. */
export const MonitorTaskSchema = Type.Composite(
  [TaskSchema, Type.Object({ owner_id: Type.String({ format: "uuid" }) })],
  { $id: "MonitorTask", title: "MonitorTask" },
);

export const DeadLetterSchema = Type.Object(
  {
    source: Type.Union([Type.Literal("task-queue"), Type.Literal("job-queue")]),
    id: Type.String({
      description: "task-queue: the task's id; job-queue: the job's id. What redrive takes.",
    }),
    type: Type.Union([Type.String(), Type.Null()], {
      description: "The task type or job name; null for a message that names no known task",
    }),
    status: Type.Union([Type.String(), Type.Null()], {
      description: "The task's status or the job's state now (a redriven task is no longer FAILED)",
    }),
    error: Type.Union([Type.String(), Type.Null()]),
    payload: Type.Unknown(),
    failed_at: NullableTimestamp,
    message_ids: Type.Array(Type.String(), {
      description: "task-queue: the dead-lettered messages about this task",
    }),
  },
  { $id: "DeadLetter", title: "DeadLetter" },
);

export const AuditEntrySchema = Type.Object(
  {
    id: Type.String(),
    at: Timestamp,
    actor_id: Type.String(),
    actor_email: Type.String(),
    action: Type.String({ examples: ["task.retry", "dead-letters.redrive"] }),
    target: Type.String({ examples: ["task:0193…", "job:email.welcome.0193…", "task-queue"] }),
    details: Type.Unknown(),
  },
  { $id: "AuditEntry", title: "AuditEntry" },
);

export const MonitorTaskPageSchema = Type.Object(Page(Type.Ref("MonitorTask")).properties, {
  $id: "MonitorTaskPage",
  title: "MonitorTaskPage",
});
export const MonitorJobPageSchema = Type.Object(Page(Type.Ref("MonitorJob")).properties, {
  $id: "MonitorJobPage",
  title: "MonitorJobPage",
});
export const AuditPageSchema = Type.Object(Page(Type.Ref("AuditEntry")).properties, {
  $id: "AuditPage",
  title: "AuditPage",
});

/** Every schema the monitor routes refer to by $id, for app.addSchema. */
export const monitorSchemas = [
  QueueInfoSchema,
  WorkerProcessSchema,
  MonitorJobSchema,
  MonitorTaskSchema,
  DeadLetterSchema,
  AuditEntrySchema,
  MonitorTaskPageSchema,
  MonitorJobPageSchema,
  AuditPageSchema,
];

export const ListJobsQuery = Type.Object(
  {
    state: Type.Optional(
      Type.Union(jobStateLiterals(), {
        description: "As the history last recorded it; omitted: every state",
      }),
    ),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "Job name" })),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 300,
        description: "A job id (exact), or text found in the job's data (case-insensitive)",
      }),
    ),
    from: Type.Optional(Type.String({ format: "date-time", description: "created_at ≥ from" })),
    to: Type.Optional(Type.String({ format: "date-time", description: "created_at < to" })),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);

export const SearchTasksQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(TASK_STATUSES.map((s) => Type.Literal(s)))),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: "A task id (exact), or text found in the payload (case-insensitive)",
      }),
    ),
    from: Type.Optional(Type.String({ format: "date-time", description: "created_at ≥ from" })),
    to: Type.Optional(Type.String({ format: "date-time", description: "created_at < to" })),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);

export const DeadLettersQuery = Type.Object(
  {
    source: Type.Optional(Type.Union([Type.Literal("task-queue"), Type.Literal("job-queue")])),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, default: 50, description: "Per source" }),
    ),
  },
  { additionalProperties: false },
);

export const RedriveBody = Type.Object(
  {
    source: Type.Union([Type.Literal("task-queue"), Type.Literal("job-queue")]),
    ids: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 300 }), {
        minItems: 1,
        maxItems: 100,
        uniqueItems: true,
        description: "Omitted: every dead letter listed (the oldest 100)",
      }),
    ),
    payload: Type.Optional(
      Type.Unknown({
        description:
          "With exactly one id: replaces the task's payload (checked against its type) or the job's data",
      }),
    ),
  },
  { additionalProperties: false },
);
export type RedriveInput = Static<typeof RedriveBody>;

export const PurgeDeadLettersBody = Type.Object(
  {
    source: Type.Literal("task-queue", {
      description: "Failed jobs are purged one by one: DELETE /api/monitor/jobs/{id}",
    }),
    ids: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 300 }), {
        minItems: 1,
        maxItems: 100,
        uniqueItems: true,
        description:
          "Dead letters' ids as listed (a task's id, or a message's for one that names no known task); omitted: the whole dead-letter queue, also what is not listed",
      }),
    ),
  },
  { additionalProperties: false },
);
export type PurgeDeadLettersInput = Static<typeof PurgeDeadLettersBody>;

export const AuditQuery = Type.Object(
  { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
  { additionalProperties: false },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) });

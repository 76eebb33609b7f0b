import { Type } from "@sinclair/typebox";
import { DEFAULT_TASK_PRIORITY, MAX_TASK_PRIORITY, TASK_STATUSES } from "@taskflow/tasks";

const taskStatusLiterals = () => TASK_STATUSES.map((s) => Type.Literal(s));
export const TaskStatusSchema = Type.Union(taskStatusLiterals(), {
  $id: "TaskStatus",
  title: "TaskStatus",
});

const Timestamp = Type.String({ format: "date-time" });

/** Shared with schedules, whose tasks take one too. */
export const TaskPriority = Type.Integer({
  minimum: 0,
  maximum: MAX_TASK_PRIORITY,
  default: DEFAULT_TASK_PRIORITY,
  description: "0 runs first, 9 last; among equals, oldest first",
});

export const CreateTaskBody = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 100,
      description: "A registered task type",
      examples: ["sleep"],
    }),
    title: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
    payload: Type.Optional(
      Type.Unknown({ description: "Input for the task's handler; checked against its type" }),
    ),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 3 })),
    priority: Type.Optional(TaskPriority),
    run_at: Type.Optional(
      Type.String({
        format: "date-time",
        description: "Start no earlier than this (at most a year ahead); a past time means now",
      }),
    ),
  },
  {
    additionalProperties: false,
    // A request that works as it is (Swagger UI's "Try it out" starts from it).
    examples: [
      { type: "sleep", title: "nap", payload: { ms: 500 } },
      { type: "echo", payload: { hello: "world" } },
    ],
  },
);

export const IdempotencyHeaders = Type.Object({
  "idempotency-key": Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        "Repeat a POST safely: the same key returns the first answer; with another body it is a 409",
    }),
  ),
});

export const TaskCreatedSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    type: Type.String(),
    title: Type.Union([Type.String(), Type.Null()]),
    status: Type.Literal("PENDING"),
    created_at: Timestamp,
  },
  { $id: "TaskCreated", title: "TaskCreated" },
);

export const TaskSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    type: Type.String(),
    title: Type.Union([Type.String(), Type.Null()]),
    status: Type.Ref("TaskStatus"),
    attempts: Type.Integer(),
    max_attempts: Type.Integer(),
    payload: Type.Unknown(),
    result: Type.Unknown(),
    last_error: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
    started_at: Type.Union([Timestamp, Type.Null()]),
    finished_at: Type.Union([Timestamp, Type.Null()]),
    run_at: Type.Union([Timestamp, Type.Null()]),
    priority: Type.Integer({ minimum: 0, maximum: MAX_TASK_PRIORITY }),
  },
  { $id: "Task", title: "Task" },
);

export const TaskPageSchema = Type.Object(
  {
    items: Type.Array(Type.Ref("Task")),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: "Pass as ?cursor= for the next page",
    }),
  },
  { $id: "TaskPage", title: "TaskPage" },
);

export const TaskStatsSchema = Type.Object(
  Object.fromEntries(TASK_STATUSES.map((s) => [s, Type.Integer({ minimum: 0 })])),
  { $id: "TaskStats", title: "TaskStats" },
);

export const ListTasksQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(taskStatusLiterals())),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const TaskIdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

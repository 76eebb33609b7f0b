import { Type } from "@sinclair/typebox";
import { TaskPriority } from "../tasks/task.schemas.ts";

const Timestamp = Type.String({ format: "date-time" });

export const CreateScheduleBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, examples: ["nightly report"] }),
    cron: Type.String({
      minLength: 1,
      maxLength: 200,
      description: "5 fields (minute first), or 6 with seconds first",
      examples: ["0 9 * * 1-5"],
    }),
    timezone: Type.String({
      minLength: 1,
      maxLength: 100,
      default: "UTC",
      description: "IANA time zone the expression is read in",
      examples: ["Europe/Paris"],
    }),
    task: Type.Object(
      {
        type: Type.String({ minLength: 1, maxLength: 100 }),
        title: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
        payload: Type.Optional(Type.Unknown()),
        max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 3 })),
        priority: Type.Optional(TaskPriority),
      },
      { additionalProperties: false, description: "The task created at every tick" },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        name: "nightly report",
        cron: "0 9 * * 1-5",
        timezone: "Europe/Paris",
        task: { type: "echo", payload: { report: "daily" } },
      },
    ],
  },
);

export const ScheduleSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    cron: Type.String(),
    timezone: Type.String(),
    task: Type.Object({
      type: Type.String(),
      title: Type.Union([Type.String(), Type.Null()]),
      payload: Type.Unknown(),
      max_attempts: Type.Integer(),
      priority: Type.Integer(),
    }),
    paused: Type.Boolean(),
    next_run_at: Timestamp,
    last_run_at: Type.Union([Timestamp, Type.Null()]),
    last_task_id: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
  },
  { $id: "Schedule", title: "Schedule" },
);

export const SchedulePageSchema = Type.Object(
  {
    items: Type.Array(Type.Ref("Schedule")),
    next_cursor: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: "SchedulePage", title: "SchedulePage" },
);

export const ListSchedulesQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const ScheduleIdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

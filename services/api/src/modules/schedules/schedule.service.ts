import type { ScheduleRow } from "@taskflow/db";
import { InvalidSchedule, nextTick, type ScheduleRepository } from "@taskflow/tasks";
import type { TaskHandlerRegistry } from "@taskflow/worker/handlers";
import { decodeCursor, encodeCursor, isUuid } from "../../http/cursor.ts";
import { HttpProblem } from "../../http/problem.ts";

export interface CreateScheduleInput {
  name: string;
  cron: string;
  timezone?: string | undefined;
  task: {
    type: string;
    title?: string | null | undefined;
    payload?: unknown;
    max_attempts?: number | undefined;
    priority?: number | undefined;
  };
}

function toView(row: ScheduleRow) {
  return {
    id: row.id,
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    task: {
      type: row.task_type,
      title: row.task_title,
      payload: row.task_payload ?? null,
      max_attempts: row.task_max_attempts,
      priority: row.task_priority,
    },
    paused: row.paused,
    next_run_at: row.next_run_at.toISOString(),
    last_run_at: row.last_run_at?.toISOString() ?? null,
    last_task_id: row.last_task_id,
    created_at: row.created_at.toISOString(),
  };
}

/** Recurring tasks: the use cases behind /api/schedules (the scheduler service fires them). */
export function createScheduleService(deps: {
  schedules: ScheduleRepository;
  handlers: TaskHandlerRegistry;
  now?: () => Date;
}) {
  const { schedules, handlers } = deps;
  const now = deps.now ?? (() => new Date());

  const firstTick = (cron: string, timezone: string) => {
    try {
      return nextTick(cron, timezone, now());
    } catch (error) {
      if (!(error instanceof InvalidSchedule)) throw error;
      throw new HttpProblem(422, `invalid ${error.field}`, {
        type: "urn:taskflow:problem:validation",
        errors: [{ path: `/body/${error.field}`, message: error.message }],
      });
    }
  };

  const owned = async (ownerId: string, id: string) => {
    const row = isUuid(id) ? await schedules.get(ownerId, id) : undefined;
    if (!row) throw new HttpProblem(404, "no such schedule");
    return row;
  };

  return {
    async create(ownerId: string, input: CreateScheduleInput) {
      const problems = handlers.validate(input.task.type, input.task.payload ?? {});
      if (problems.length > 0) {
        throw new HttpProblem(422, `the task cannot run as "${input.task.type}"`, {
          type: "urn:taskflow:problem:validation",
          errors: problems.map((p) => ({ ...p, path: `/body/task${p.path}` })),
        });
      }
      const timezone = input.timezone ?? "UTC";
      const row = await schedules.create({
        ownerId,
        name: input.name,
        cron: input.cron,
        timezone,
        taskType: input.task.type,
        taskTitle: input.task.title ?? null,
        taskPayload: input.task.payload ?? {},
        taskMaxAttempts: input.task.max_attempts ?? 3,
        taskPriority: input.task.priority,
        nextRunAt: firstTick(input.cron, timezone),
      });
      return toView(row);
    },

    async list(
      ownerId: string,
      query: { limit?: number | undefined; cursor?: string | undefined },
    ) {
      const page = await schedules.list(ownerId, {
        limit: query.limit ?? 20,
        after: query.cursor ? decodeCursor(query.cursor) : undefined,
      });
      return {
        items: page.items.map(toView),
        next_cursor: page.nextCursor ? encodeCursor(page.nextCursor) : null,
      };
    },

    async get(ownerId: string, id: string) {
      return toView(await owned(ownerId, id));
    },

    async pause(ownerId: string, id: string) {
      await owned(ownerId, id);
      const row = await schedules.setPaused(ownerId, id, true);
      if (!row) throw new HttpProblem(404, "no such schedule");
      return toView(row);
    },

    /** Resumes from the next tick after now: ticks missed while paused are not fired. */
    async resume(ownerId: string, id: string) {
      const current = await owned(ownerId, id);
      const row = await schedules.setPaused(
        ownerId,
        id,
        false,
        firstTick(current.cron, current.timezone),
      );
      if (!row) throw new HttpProblem(404, "no such schedule");
      return toView(row);
    },

    async remove(ownerId: string, id: string) {
      if (!isUuid(id) || !(await schedules.delete(ownerId, id))) {
        throw new HttpProblem(404, "no such schedule");
      }
    },
  };
}

export type ScheduleService = ReturnType<typeof createScheduleService>;

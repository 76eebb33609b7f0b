import { GroupCommitter } from "@taskflow/db";
import { failpoint } from "@taskflow/observability";
import {
  type CreateOutcome,
  DEFAULT_TASK_PRIORITY,
  type NewTask,
  type TaskRepository,
  type TaskStatus,
  type TaskView,
  toTaskView,
} from "@taskflow/tasks";
import type { TaskHandlerRegistry } from "@taskflow/worker/handlers";
import { decodeCursor, encodeCursor, isUuid } from "../../http/cursor.ts";
import { requestFingerprint } from "../../http/fingerprint.ts";
import { HttpProblem } from "../../http/problem.ts";

export interface CreateTaskInput {
  type: string;
  title?: string | null | undefined;
  payload?: unknown;
  max_attempts?: number | undefined;
  /** 0 (most urgent) … 9. */
  priority?: number | undefined;
  /** ISO 8601 date-time: start no earlier than this. */
  run_at?: string | undefined;
}

export interface TaskCreated {
  id: string;
  type: string;
  title: string | null;
  status: "PENDING";
  created_at: string;
}

/** The longest a task may wait for its run_at: beyond this it is a schedule, not a task. */
const MAX_RUN_AT_MS = 366 * 24 * 3600 * 1000;

function parseRunAt(text: string): Date {
  const at = new Date(text);
  const invalid = (message: string) =>
    new HttpProblem(422, "invalid run_at", {
      type: "urn:taskflow:problem:validation",
      errors: [{ path: "/body/run_at", message }],
    });
  if (Number.isNaN(at.getTime())) throw invalid("not a date-time");
  if (at.getTime() - Date.now() > MAX_RUN_AT_MS) throw invalid("more than a year ahead");
  return at;
}

/** The task use cases behind /api/tasks. Creates from concurrent requests are group-committed. */
export function createTaskService(deps: {
  tasks: TaskRepository;
  handlers: TaskHandlerRegistry;
  /** Told the size of each batch of creates written together. */
  onBatch?: (size: number) => void;
}) {
  const { tasks, handlers } = deps;
  const creates = new GroupCommitter<NewTask, CreateOutcome>((batch) => tasks.createMany(batch), {
    onFlush: deps.onBatch,
  });

  return {
    async create(
      ownerId: string,
      input: CreateTaskInput,
      idempotencyKey?: string,
      /** W3C trace context of the request: stored with the task, carried by its messages. */
      traceparent?: string,
    ): Promise<{ task: TaskCreated; replayed: boolean }> {
      const problems = handlers.validate(input.type, input.payload ?? {});
      if (problems.length > 0) {
        throw new HttpProblem(
          422,
          handlers.get(input.type)
            ? "invalid payload for this task type"
            : `unknown task type "${input.type}"`,
          {
            type: "urn:taskflow:problem:validation",
            errors: problems,
          },
        );
      }
      const runAt = input.run_at === undefined ? undefined : parseRunAt(input.run_at);
      const outcome = await creates.submit({
        ownerId,
        runAt,
        type: input.type,
        title: input.title ?? null,
        payload: input.payload ?? {},
        maxAttempts: input.max_attempts ?? 3,
        priority: input.priority,
        traceparent,
        idempotencyKey,
        requestHash: idempotencyKey
          ? requestFingerprint({
              ...input,
              title: input.title ?? null,
              payload: input.payload ?? {},
              max_attempts: input.max_attempts ?? 3,
              priority: input.priority ?? DEFAULT_TASK_PRIORITY,
            })
          : undefined,
      });
      failpoint("api.after-commit");
      if (outcome.kind === "key_reused") {
        throw new HttpProblem(409, "this Idempotency-Key was used with a different request body");
      }
      const { task } = outcome;
      return {
        task: {
          id: task.id,
          type: task.type,
          title: task.title,
          status: "PENDING",
          created_at: task.created_at.toISOString(),
        },
        replayed: outcome.kind === "replayed",
      };
    },

    async get(ownerId: string, id: string): Promise<TaskView> {
      // Someone else's task and no task at all answer the same: 404.
      const task = isUuid(id) ? await tasks.get(ownerId, id) : undefined;
      if (!task) throw new HttpProblem(404, "no such task");
      return toTaskView(task);
    },

    async list(
      ownerId: string,
      query: {
        status?: TaskStatus | undefined;
        limit?: number | undefined;
        cursor?: string | undefined;
      },
    ) {
      const page = await tasks.list(ownerId, {
        status: query.status,
        limit: query.limit ?? 20,
        after: query.cursor ? decodeCursor(query.cursor) : undefined,
      });
      return {
        items: page.items.map(toTaskView),
        next_cursor: page.nextCursor ? encodeCursor(page.nextCursor) : null,
      };
    },

    stats(ownerId: string) {
      return tasks.stats(ownerId);
    },

    async cancel(ownerId: string, id: string): Promise<TaskView> {
      const outcome = isUuid(id)
        ? await tasks.cancel(ownerId, id)
        : ({ kind: "not_found" } as const);
      if (outcome.kind === "not_found") throw new HttpProblem(404, "no such task");
      if (outcome.kind === "not_cancellable") {
        throw new HttpProblem(
          409,
          `a ${outcome.status} task cannot be cancelled (only PENDING or RETRYING)`,
        );
      }
      return toTaskView(outcome.task);
    },
  };
}

export type TaskService = ReturnType<typeof createTaskService>;

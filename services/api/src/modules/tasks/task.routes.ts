import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { requestTraceparent } from "../../http/tracing.ts";
import {
  CreateTaskBody,
  IdempotencyHeaders,
  ListTasksQuery,
  TaskIdParams,
} from "./task.schemas.ts";
import type { TaskService } from "./task.service.ts";

const problem = Type.Ref("Problem");
const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { sessionCookie: [] }];

export interface TaskRoutesOptions {
  tasks: TaskService;
  /** Submissions per user per minute (429 with Retry-After beyond). */
  rateLimitPerMinute: number;
}

/** /api/tasks: create, read, list, count and cancel the caller's tasks. */
export const taskRoutes: FastifyPluginAsyncTypebox<TaskRoutesOptions> = async (
  app,
  { tasks, rateLimitPerMinute },
) => {
  app.addHook("onRequest", app.authenticate);

  app.post(
    "",
    {
      schema: {
        tags: ["tasks"],
        summary: "Submit a task",
        description:
          "Stores the task and queues it in one transaction; a worker runs it. Answers before it runs.",
        security,
        headers: IdempotencyHeaders,
        body: CreateTaskBody,
        response: {
          202: Type.Ref("TaskCreated"),
          401: problem,
          409: problem,
          413: problem,
          422: problem,
          429: problem,
        },
      },
      config: {
        rateLimit: {
          max: rateLimitPerMinute,
          timeWindow: "1 minute",
          // Runs after authentication (preHandler): the budget is the user's, not the address's.
          keyGenerator: (request) => `tasks:${request.user.id}`,
        },
      },
    },
    async (request, reply) => {
      const { task, replayed } = await tasks.create(
        request.user.id,
        request.body,
        request.headers["idempotency-key"],
        requestTraceparent(request),
      );
      if (replayed) reply.header("idempotent-replayed", "true");
      return reply.code(202).header("location", `/api/tasks/${task.id}`).send(task);
    },
  );

  app.get(
    "",
    {
      schema: {
        tags: ["tasks"],
        summary: "List tasks, newest first",
        security,
        querystring: ListTasksQuery,
        response: { 200: Type.Ref("TaskPage"), 401: problem, 422: problem },
      },
    },
    async (request) => tasks.list(request.user.id, request.query),
  );

  app.get(
    "/stats",
    {
      schema: {
        tags: ["tasks"],
        summary: "The caller's task counts by status",
        description:
          "Read from counters kept in the same transactions that move tasks: constant time.",
        security,
        response: { 200: Type.Ref("TaskStats"), 401: problem },
      },
    },
    async (request) => tasks.stats(request.user.id),
  );

  app.get(
    "/:id",
    {
      schema: {
        tags: ["tasks"],
        summary: "One task",
        security,
        params: TaskIdParams,
        response: { 200: Type.Ref("Task"), 401: problem, 404: problem },
      },
    },
    async (request) => tasks.get(request.user.id, request.params.id),
  );

  app.post(
    "/:id/cancel",
    {
      schema: {
        tags: ["tasks"],
        summary: "Cancel a PENDING or RETRYING task",
        security,
        params: TaskIdParams,
        response: { 200: Type.Ref("Task"), 401: problem, 404: problem, 409: problem },
      },
    },
    async (request) => tasks.cancel(request.user.id, request.params.id),
  );
};

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { CreateScheduleBody, ListSchedulesQuery, ScheduleIdParams } from "./schedule.schemas.ts";
import type { ScheduleService } from "./schedule.service.ts";

const problem = Type.Ref("Problem");
const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { sessionCookie: [] }];

/**
 * /api/schedules: recurring tasks from cron expressions. The scheduler service turns each
 * tick into exactly one task, whatever number of schedulers run.
 */
export const scheduleRoutes: FastifyPluginAsyncTypebox<{ schedules: ScheduleService }> = async (
  app,
  { schedules },
) => {
  app.addHook("onRequest", app.authenticate);
  const one = { 200: Type.Ref("Schedule"), 401: problem, 404: problem };

  app.post(
    "",
    {
      schema: {
        tags: ["schedules"],
        summary: "Create a recurring task",
        description:
          "The expression is read in `timezone` (IANA), so local times hold across DST changes. The task is checked against its type now, not at the first tick.",
        security,
        body: CreateScheduleBody,
        response: { 201: Type.Ref("Schedule"), 401: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const schedule = await schedules.create(request.user.id, request.body);
      return reply.code(201).header("location", `/api/schedules/${schedule.id}`).send(schedule);
    },
  );

  app.get(
    "",
    {
      schema: {
        tags: ["schedules"],
        summary: "List the caller's schedules, newest first",
        security,
        querystring: ListSchedulesQuery,
        response: { 200: Type.Ref("SchedulePage"), 401: problem, 422: problem },
      },
    },
    async (request) => schedules.list(request.user.id, request.query),
  );

  app.get(
    "/:id",
    {
      schema: {
        tags: ["schedules"],
        summary: "One schedule",
        security,
        params: ScheduleIdParams,
        response: one,
      },
    },
    async (request) => schedules.get(request.user.id, request.params.id),
  );

  app.post(
    "/:id/pause",
    {
      schema: {
        tags: ["schedules"],
        summary: "Stop firing until resumed",
        security,
        params: ScheduleIdParams,
        response: one,
      },
    },
    async (request) => schedules.pause(request.user.id, request.params.id),
  );

  app.post(
    "/:id/resume",
    {
      schema: {
        tags: ["schedules"],
        summary: "Fire again from the next tick (ticks missed while paused are skipped)",
        security,
        params: ScheduleIdParams,
        response: one,
      },
    },
    async (request) => schedules.resume(request.user.id, request.params.id),
  );

  app.delete(
    "/:id",
    {
      schema: {
        tags: ["schedules"],
        summary: "Delete a schedule (tasks it created stay)",
        security,
        params: ScheduleIdParams,
        response: { 204: Type.Null(), 401: problem, 404: problem },
      },
    },
    async (request, reply) => {
      await schedules.remove(request.user.id, request.params.id);
      return reply.code(204).send(null);
    },
  );
};

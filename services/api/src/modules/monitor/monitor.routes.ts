import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { JobChange, JobQueue } from "@taskflow/messaging";
import type { FastifyRequest } from "fastify";
import { HttpProblem } from "../../http/problem.ts";
import { eventStreams } from "../events/event-stream.ts";
import type { TaskEventHub } from "../events/task-event-hub.ts";
import { createJobEventHub } from "./job-event-hub.ts";
import {
  AuditQuery,
  DeadLettersQuery,
  IdParams,
  ListJobsQuery,
  PurgeDeadLettersBody,
  RedriveBody,
  SearchTasksQuery,
} from "./monitor.schemas.ts";
import type { Actor, MonitorService } from "./monitor.service.ts";

const problem = Type.Ref("Problem");
const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { sessionCookie: [] }];
const tags = ["monitor"];
const denied = { 401: problem, 403: problem };

export interface MonitorRoutesOptions {
  monitor: MonitorService;
  hub: TaskEventHub;
  /** Its jobs' changes go on the event stream (watched only while a stream is open). */
  jobQueue?: JobQueue | undefined;
  /** Lower-cased emails of the operators; anyone else gets 403. */
  adminEmails: readonly string[];
}

const actorOf = (request: FastifyRequest): Actor => ({
  id: request.user.id,
  email: request.user.email,
});

/** A `job.updated` event's data. */
const jobEvent = (change: JobChange) => ({
  id: change.id,
  queue: change.queue,
  name: change.name,
  state: change.state,
  attempts: change.attempts,
  ...(change.failedReason !== undefined ? { failed_reason: change.failedReason } : {}),
});

/**
 * /api/monitor: the operators' view of every owner's tasks, the queues, the processes and the
 * dead letters, and the actions on them (each one written to the audit log). Admins only.
 */
export const monitorRoutes: FastifyPluginAsyncTypebox<MonitorRoutesOptions> = async (
  app,
  { monitor, hub, jobQueue, adminEmails },
) => {
  const admins = new Set(adminEmails.map((email) => email.toLowerCase()));
  const jobs = jobQueue
    ? createJobEventHub(jobQueue, (error) =>
        app.log.warn({ err: error }, "monitor: could not stop watching the job queue"),
      )
    : undefined;
  // After preClose ended the streams: a watch left open (Redis: a connection) is closed.
  app.addHook("onClose", async () => {
    await jobs?.close();
  });
  app.addHook("onRequest", app.authenticate);
  // In onRequest, before the body and query are validated: a non-admin learns nothing
  // about the inputs, only that the monitor is not theirs.
  app.addHook("onRequest", async (request) => {
    if (!admins.has(request.user.email.toLowerCase())) {
      throw new HttpProblem(403, "the monitor is for operators (TASKFLOW_ADMIN_EMAILS)");
    }
  });
  const stream = eventStreams(app);

  app.get(
    "/queues",
    {
      schema: {
        tags,
        summary: "The task and job queues' numbers",
        description:
          "Counts as each engine reports them, plus tasks finished in the last minute by status.",
        security,
        response: { 200: Type.Array(Type.Ref("MonitorQueue")), ...denied },
      },
    },
    async () => monitor.queues(),
  );

  app.get(
    "/workers",
    {
      schema: {
        tags,
        summary: "Every process role, from their heartbeats",
        description:
          "One row per role a process runs (api, relay, worker, mailer, scheduler, alerts; `taskflow start` beats once per role). The counters by role — in_flight / processed / failed: api, requests being answered (open event streams included) / answered / answered 5xx; worker and mailer, tasks or jobs running / succeeded / failed; relay, outbox messages being published / published / refused by their engine (tried again later); scheduler, schedules firing / fired / that could not fire; alerts, evaluations running / done / failed. A process is offline once it missed three heartbeats, stopped once it exited cleanly.",
        security,
        response: { 200: Type.Array(Type.Ref("MonitorWorker")), ...denied },
      },
    },
    async () => monitor.workers(),
  );

  app.get(
    "/jobs",
    {
      schema: {
        tags,
        summary: "Search background jobs, newest first",
        description:
          "From the job history in PostgreSQL: every job the queue saw, also once the engine forgot or purged it (removed_at), until the retention (TASKFLOW_HISTORY_RETENTION_DAYS) deletes it. Filters: state, type (the job name), q (a job id, or text in its data), from/to (created_at); keyset pages.",
        security,
        querystring: ListJobsQuery,
        response: {
          200: Type.Ref("MonitorJobPage"),
          ...denied,
          404: problem,
          422: problem,
          503: problem,
        },
      },
    },
    async (request) => monitor.jobs(request.query),
  );

  app.get(
    "/tasks",
    {
      schema: {
        tags,
        summary: "Search every owner's tasks, newest first",
        security,
        querystring: SearchTasksQuery,
        response: { 200: Type.Ref("MonitorTaskPage"), ...denied, 422: problem, 503: problem },
      },
    },
    async (request) => monitor.tasks(request.query),
  );

  app.post(
    "/tasks/:id/retry",
    {
      schema: {
        tags,
        summary: "Run a FAILED task again",
        description: "Back to PENDING with attempts 0 and a new queue message; last_error is kept.",
        security,
        params: IdParams,
        response: { 200: Type.Ref("MonitorTask"), ...denied, 404: problem, 409: problem },
      },
    },
    async (request) => monitor.retryTask(actorOf(request), request.params.id),
  );

  app.post(
    "/tasks/:id/cancel",
    {
      schema: {
        tags,
        summary: "Cancel anyone's PENDING or RETRYING task",
        security,
        params: IdParams,
        response: { 200: Type.Ref("MonitorTask"), ...denied, 404: problem, 409: problem },
      },
    },
    async (request) => monitor.cancelTask(actorOf(request), request.params.id),
  );

  app.post(
    "/jobs/:id/retry",
    {
      schema: {
        tags,
        summary: "Run a failed job again (attempts start over)",
        security,
        params: IdParams,
        response: { 200: Type.Ref("MonitorJob"), ...denied, 404: problem, 409: problem },
      },
    },
    async (request) => monitor.retryJob(actorOf(request), request.params.id),
  );

  app.delete(
    "/jobs/:id",
    {
      schema: {
        tags,
        summary: "Purge a job that is not running",
        security,
        params: IdParams,
        response: { 204: Type.Null(), ...denied, 404: problem, 409: problem },
      },
    },
    async (request, reply) => {
      await monitor.removeJob(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/dead-letters",
    {
      schema: {
        tags,
        summary: "Dead-lettered tasks and failed jobs, in one model",
        description:
          "task-queue: the dead-letter queue's messages, oldest first, joined with their tasks; job-queue: the newest failed jobs.",
        security,
        querystring: DeadLettersQuery,
        response: { 200: Type.Array(Type.Ref("DeadLetter")), ...denied, 422: problem },
      },
    },
    async (request) => monitor.deadLetters(request.query),
  );

  app.post(
    "/dead-letters/redrive",
    {
      schema: {
        tags,
        summary: "Run dead letters again",
        description:
          "task-queue: FAILED tasks back to PENDING (one transaction), then their dead letters are removed; job-queue: failed jobs back to waiting. With exactly one id, `payload` replaces the task's payload or the job's data.",
        security,
        body: RedriveBody,
        response: {
          200: Type.Object({
            redriven: Type.Integer({ minimum: 0 }),
            dead_letters_removed: Type.Integer({ minimum: 0 }),
          }),
          ...denied,
          404: problem,
          409: problem,
          422: problem,
        },
      },
    },
    async (request) => monitor.redrive(actorOf(request), request.body),
  );

  app.post(
    "/dead-letters/purge",
    {
      schema: {
        tags,
        summary: "Purge dead-lettered task messages for good",
        description:
          "task-queue only. With `ids`: the dead-lettered messages of those dead letters are removed (ids not found are ignored); without: every message in the dead-letter queue, also those not listed. The tasks stay FAILED, with their last_error: POST /api/monitor/tasks/{id}/retry still runs one again. `purged` counts the messages removed.",
        security,
        body: PurgeDeadLettersBody,
        response: {
          200: Type.Object({ purged: Type.Integer({ minimum: 0 }) }),
          ...denied,
          404: problem,
          422: problem,
        },
      },
    },
    async (request) => monitor.purgeDeadLetters(actorOf(request), request.body),
  );

  app.get(
    "/audit",
    {
      schema: {
        tags,
        summary: "What operators did here, newest first",
        security,
        querystring: AuditQuery,
        response: { 200: Type.Ref("AuditPage"), ...denied, 422: problem },
      },
    },
    async (request) => monitor.audit(request.query),
  );

  app.get(
    "/events",
    {
      schema: {
        tags,
        summary: "Every owner's task updates and the background jobs' changes (text/event-stream)",
        description:
          'Each committed task change is `event: task.updated` with `data: {"id": ..., "owner_id": ..., "status": ...}`. Each change of a background job\'s state is `event: job.updated` with `data: {"id": ..., "queue": ..., "name": ..., "state": "waiting" | "delayed" | "active" | "completed" | "failed", "attempts": <attempts started>, "failed_reason": ...}`, failed_reason with "failed" only (its first 500 characters); they come from the job engine itself (BullMQ\'s queue events on Redis, a NOTIFY from the changing transaction on the embedded queue), in the order it recorded them. A purge is not a change; on the embedded queue a delayed job that comes due goes from delayed to active.',
        security,
        response: {
          200: {
            description: "text/event-stream",
            content: { "text/event-stream": { schema: Type.String() } },
          },
          ...denied,
        },
      },
    },
    async (request, reply) =>
      stream(request, reply, async (send) => {
        const stopTasks = await hub.subscribeAll((change) =>
          send("task.updated", { id: change.id, owner_id: change.owner_id, status: change.status }),
        );
        if (!jobs) return stopTasks;
        try {
          const stopJobs = await jobs.subscribe((change) => send("job.updated", jobEvent(change)));
          return () => {
            stopTasks();
            stopJobs();
          };
        } catch (error) {
          stopTasks();
          throw error;
        }
      }),
  );
};

import type { AuditLogRow, JobHistoryRow, TaskRow } from "@taskflow/db";
import type { JobQueue, JobState, JobView, QueueMessage, TaskQueue } from "@taskflow/messaging";
import {
  type AlsoInTransaction,
  type TaskRepository,
  type TaskStatus,
  toTaskView,
} from "@taskflow/tasks";
import type { TaskHandlerRegistry } from "@taskflow/worker/handlers";
import { HttpProblem } from "../../http/problem.ts";
import type { AuditEntry, JobCursor, MonitorRepository } from "./monitor.repository.ts";
import type { PurgeDeadLettersInput, RedriveInput } from "./monitor.schemas.ts";

/** The operator a monitor action is recorded under. */
export interface Actor {
  id: string;
  email: string;
}

export interface MonitorServiceDeps {
  tasks: TaskRepository;
  monitor: MonitorRepository;
  handlers: TaskHandlerRegistry;
  /** Absent: the monitor shows what it has (no task-queue numbers or dead letters). */
  taskQueue?: TaskQueue | undefined;
  jobQueue?: JobQueue | undefined;
  /** Something went wrong after the action committed (it still happened). */
  warn: (error: unknown, message: string) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Dead letters looked at to find a task's messages (they are peeked oldest first). */
const DEAD_LETTER_WINDOW = 1_000;
/** A redrive without ids takes this many of the oldest dead letters. */
const REDRIVE_ALL_LIMIT = 100;

function encodeCursor(value: string | number): string {
  return Buffer.from(String(value)).toString("base64url");
}

function decodeCursor(cursor: string, valid: RegExp): string {
  const value = Buffer.from(cursor, "base64url").toString();
  if (!valid.test(value)) {
    throw new HttpProblem(422, "invalid cursor", {
      errors: [{ path: "/querystring/cursor", message: "not a cursor from this API" }],
    });
  }
  return value;
}

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function encodeJobCursor(cursor: JobCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.jobId])).toString("base64url");
}

function decodeJobCursor(cursor: string): JobCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString());
  } catch {
    value = undefined;
  }
  const [createdAt, jobId] = Array.isArray(value) && value.length === 2 ? value : [];
  if (typeof createdAt !== "string" || !CURSOR_AT.test(createdAt) || typeof jobId !== "string") {
    throw new HttpProblem(422, "invalid cursor", {
      errors: [{ path: "/querystring/cursor", message: "not a cursor from this API" }],
    });
  }
  return { createdAt, jobId };
}

/** `from` and `to` of a search as dates; 422 unless from < to. */
function timeRange(query: { from?: string | undefined; to?: string | undefined }) {
  const from = query.from ? new Date(query.from) : undefined;
  const to = query.to ? new Date(query.to) : undefined;
  if (from && to && from >= to) {
    throw new HttpProblem(422, "`from` must be before `to`", {
      type: "urn:taskflow:problem:validation",
      errors: [{ path: "/querystring/to", message: "must be after from" }],
    });
  }
  return { from, to };
}

/** 57014: a search ran into its statement timeout. */
function tooLong(error: unknown): never {
  if ((error as { code?: unknown }).code === "57014") {
    throw new HttpProblem(
      503,
      "the search took too long: narrow it (type, state or status, from/to)",
    );
  }
  throw error;
}

function taskIdOf(message: QueueMessage): string | undefined {
  const taskId = (message.body as { task_id?: unknown } | null)?.task_id;
  return typeof taskId === "string" && UUID.test(taskId) ? taskId : undefined;
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** A task as its owner sees it, plus whose it is. */
export function toMonitorTask(row: TaskRow) {
  return { ...toTaskView(row), owner_id: row.owner_id };
}

function toMonitorJob(job: JobView) {
  return {
    id: job.id,
    name: job.name,
    state: job.state,
    data: job.data ?? null,
    attempts_made: job.attemptsMade,
    max_attempts: job.maxAttempts,
    priority: job.priority,
    failed_reason: job.failedReason,
    result: job.result ?? null,
    created_at: job.createdAt.toISOString(),
    run_at: iso(job.runAt),
    finished_at: iso(job.finishedAt),
  };
}

/** A job as the history last recorded it (it may be gone from the engine: removed_at). */
function toMonitorJobFromHistory(row: JobHistoryRow) {
  return {
    id: row.job_id,
    name: row.name,
    state: row.state,
    data: row.data ?? null,
    attempts_made: row.attempts_made,
    max_attempts: row.max_attempts,
    priority: row.priority,
    failed_reason: row.failed_reason,
    result: row.result ?? null,
    created_at: row.created_at.toISOString(),
    run_at: iso(row.run_at),
    finished_at: iso(row.finished_at),
    started_at: iso(row.started_at),
    removed_at: iso(row.removed_at),
    updated_at: row.updated_at.toISOString(),
  };
}

function toAuditEntry(row: AuditLogRow) {
  return {
    id: String(row.id),
    at: row.at.toISOString(),
    actor_id: row.actor_id,
    actor_email: row.actor_email,
    action: row.action,
    target: row.target,
    details: row.details ?? {},
  };
}

export interface DeadLetterView {
  source: "task-queue" | "job-queue";
  id: string;
  type: string | null;
  status: string | null;
  error: string | null;
  payload: unknown;
  failed_at: string | null;
  message_ids: string[];
}

/**
 * The operators' use cases behind /api/monitor: what the queues, processes, tasks and jobs
 * look like across every owner, and the actions on them, each recorded in the audit log.
 */
export function createMonitorService(deps: MonitorServiceDeps) {
  const { tasks, monitor, handlers, taskQueue, jobQueue } = deps;

  const requireTaskQueue = () => {
    if (!taskQueue) throw new HttpProblem(404, "this API has no task queue to monitor");
    return taskQueue;
  };
  const requireJobQueue = () => {
    if (!jobQueue) throw new HttpProblem(404, "this API has no job queue to monitor");
    return jobQueue;
  };

  /** Audit on the task change's own transaction; no record when `entry` gives none. */
  const auditWith =
    (entry: (changed: readonly TaskRow[]) => AuditEntry | undefined): AlsoInTransaction =>
    async (trx, changed) => {
      const record = entry(changed);
      if (record) await monitor.appendAudit(record, trx);
    };

  /** Dead letters by the task they are about (messages naming no task are left out). */
  async function deadLettersByTask(queue: TaskQueue, window: number) {
    const byTask = new Map<string, QueueMessage[]>();
    for (const message of await queue.peekDeadLetters(window)) {
      const taskId = taskIdOf(message);
      if (!taskId) continue;
      byTask.set(taskId, [...(byTask.get(taskId) ?? []), message]);
    }
    return byTask;
  }

  /**
   * Removes the dead letters of tasks that moved on (retried now, or before): they would
   * only be redriven again for nothing. A failure here leaves them listed, harmlessly.
   */
  async function dropObsoleteDeadLetters(
    queue: TaskQueue,
    letters: Map<string, QueueMessage[]>,
    taskIds: readonly string[],
  ): Promise<number> {
    const candidates = taskIds.filter((id) => letters.has(id));
    if (candidates.length === 0) return 0;
    try {
      const current = await monitor.tasksByIds(candidates);
      const moved = current.filter((task) => task.status !== "FAILED");
      const messageIds = moved.flatMap((task) => letters.get(task.id) ?? []).map((m) => m.id);
      return messageIds.length ? await queue.removeDeadLetters(messageIds) : 0;
    } catch (error) {
      deps.warn(error, "could not remove the dead letters of redriven tasks");
      return 0;
    }
  }

  async function redriveTasks(actor: Actor, input: RedriveInput) {
    const queue = requireTaskQueue();
    const letters = await deadLettersByTask(queue, DEAD_LETTER_WINDOW);
    // An id that is not a UUID names no task (PostgreSQL would refuse it as one: a 500).
    const wanted = (input.ids ?? [...letters.keys()].slice(0, REDRIVE_ALL_LIMIT)).filter((id) =>
      UUID.test(id),
    );
    const entry = (changed: readonly TaskRow[]): AuditEntry => ({
      actor,
      action: "dead-letters.redrive",
      target: "task-queue",
      details: {
        requested: input.ids ?? "all",
        redriven: changed.map((task) => task.id),
        payload_replaced: input.payload !== undefined,
      },
    });
    let redriven: TaskRow[];
    if (input.payload !== undefined) {
      const [id] = wanted;
      const [task] = id ? await monitor.tasksByIds([id]) : [];
      if (!id || !task) throw new HttpProblem(404, "no such task");
      const problems = handlers.validate(task.type, input.payload);
      if (problems.length > 0) {
        throw new HttpProblem(422, `invalid payload for a "${task.type}" task`, {
          type: "urn:taskflow:problem:validation",
          errors: problems,
        });
      }
      const outcome = await tasks.retryFailed(id, {
        payload: input.payload,
        // Nothing retried (it is not FAILED): a 409, not an action to record.
        also: auditWith((changed) => (changed.length ? entry(changed) : undefined)),
      });
      if (outcome.kind === "not_retryable") {
        throw new HttpProblem(409, `a ${outcome.status} task cannot be redriven (only FAILED)`);
      }
      if (outcome.kind === "not_found") throw new HttpProblem(404, "no such task");
      redriven = [outcome.task];
    } else if (wanted.length === 0) {
      await monitor.appendAudit(entry([]));
      redriven = [];
    } else {
      redriven = await tasks.retryFailedMany(wanted, { also: auditWith(entry) });
    }
    const removed = await dropObsoleteDeadLetters(queue, letters, wanted);
    return { redriven: redriven.length, dead_letters_removed: removed };
  }

  async function redriveJobs(actor: Actor, input: RedriveInput) {
    const queue = requireJobQueue();
    const wanted =
      input.ids ?? (await queue.list("failed", REDRIVE_ALL_LIMIT)).map((job) => job.id);
    if (input.payload !== undefined) {
      const [id] = wanted;
      const job = id ? await queue.get(id) : undefined;
      if (!id || !job) throw new HttpProblem(404, "no such job");
      if (job.state !== "failed") {
        throw new HttpProblem(409, `a ${job.state} job cannot be redriven (only failed)`);
      }
    }
    const redriven: string[] = [];
    for (const id of wanted) {
      const retried = await queue.retry(
        id,
        input.payload !== undefined ? { data: input.payload } : undefined,
      );
      if (retried) redriven.push(id);
    }
    // The jobs live in another engine: the record follows the action, it cannot share its commit.
    await monitor.appendAudit({
      actor,
      action: "dead-letters.redrive",
      target: "job-queue",
      details: {
        requested: input.ids ?? "all",
        redriven,
        payload_replaced: input.payload !== undefined,
      },
    });
    return { redriven: redriven.length, dead_letters_removed: 0 };
  }

  return {
    async queues() {
      const items = [];
      if (taskQueue) {
        const [stats, numbers] = await Promise.all([taskQueue.stats(), monitor.taskQueueNumbers()]);
        items.push({
          name: taskQueue.name,
          engine: taskQueue.engine,
          kind: "tasks" as const,
          waiting: stats.waiting,
          delayed: numbers.delayed,
          in_flight: numbers.processing,
          consumers: stats.consumers,
          dead_lettered: stats.deadLettered,
          completed: null,
          finished_last_minute: numbers.finishedLastMinute,
        });
      }
      if (jobQueue) {
        const counts = await jobQueue.counts();
        items.push({
          name: jobQueue.name,
          engine: jobQueue.engine,
          kind: "jobs" as const,
          waiting: counts.waiting,
          delayed: counts.delayed,
          in_flight: counts.active,
          consumers: null,
          dead_lettered: counts.failed,
          completed: counts.completed,
          finished_last_minute: null,
        });
      }
      return items;
    },

    async workers() {
      const rows = await monitor.listHeartbeats();
      return rows.map((row) => ({
        id: row.id,
        role: row.role,
        host: row.host,
        pid: row.pid,
        status: row.status,
        online: row.status === "online",
        concurrency: row.concurrency,
        in_flight: row.in_flight,
        processed: row.processed,
        failed: row.failed,
        started_at: row.started_at.toISOString(),
        beat_at: row.beat_at.toISOString(),
        stopped_at: iso(row.stopped_at),
        heartbeat_interval_ms: row.interval_ms,
        silent_seconds: row.silent_seconds,
      }));
    },

    /**
     * Jobs from the history in PostgreSQL (every job the decorated queue saw, also after the
     * engine forgot it), newest first, filtered by state, name, time and id or data text,
     * server-side, in keyset pages.
     */
    async jobs(query: {
      state?: JobState | undefined;
      type?: string | undefined;
      q?: string | undefined;
      from?: string | undefined;
      to?: string | undefined;
      limit?: number | undefined;
      cursor?: string | undefined;
    }) {
      const queue = requireJobQueue();
      const { from, to } = timeRange(query);
      const page = await monitor
        .searchJobs({
          queue: queue.name,
          state: query.state,
          type: query.type,
          q: query.q,
          from,
          to,
          limit: query.limit ?? 20,
          before: query.cursor ? decodeJobCursor(query.cursor) : undefined,
        })
        .catch(tooLong);
      return {
        items: page.items.map(toMonitorJobFromHistory),
        next_cursor: page.nextCursor ? encodeJobCursor(page.nextCursor) : null,
      };
    },

    async tasks(query: {
      status?: TaskStatus | undefined;
      type?: string | undefined;
      q?: string | undefined;
      from?: string | undefined;
      to?: string | undefined;
      limit?: number | undefined;
      cursor?: string | undefined;
    }) {
      const { from, to } = timeRange(query);
      const page = await monitor
        .searchTasks({
          status: query.status,
          type: query.type,
          q: query.q,
          from,
          to,
          limit: query.limit ?? 20,
          before: query.cursor ? decodeCursor(query.cursor, UUID) : undefined,
        })
        .catch(tooLong);
      return {
        items: page.items.map(toMonitorTask),
        next_cursor: page.nextCursor ? encodeCursor(page.nextCursor) : null,
      };
    },

    async deadLetters(query: {
      source?: "task-queue" | "job-queue" | undefined;
      limit?: number | undefined;
    }): Promise<DeadLetterView[]> {
      const limit = query.limit ?? 50;
      const items: DeadLetterView[] = [];
      if (taskQueue && query.source !== "job-queue") {
        const messages = await taskQueue.peekDeadLetters(limit);
        const known = new Map(
          (await monitor.tasksByIds(messages.flatMap((m) => taskIdOf(m) ?? []))).map((task) => [
            task.id,
            task,
          ]),
        );
        const byId = new Map<string, DeadLetterView>();
        for (const message of messages) {
          const taskId = taskIdOf(message);
          const task = taskId ? known.get(taskId) : undefined;
          const id = task?.id ?? message.id;
          const seen = byId.get(id);
          if (seen) {
            seen.message_ids.push(message.id);
            continue;
          }
          byId.set(id, {
            source: "task-queue",
            id,
            type: task?.type ?? null,
            status: task?.status ?? null,
            error: task ? task.last_error : "the message names no known task",
            payload: task ? (task.payload ?? null) : (message.body ?? null),
            failed_at: iso(task?.finished_at ?? null),
            message_ids: [message.id],
          });
        }
        items.push(...byId.values());
      }
      if (jobQueue && query.source !== "task-queue") {
        for (const job of await jobQueue.list("failed", limit)) {
          items.push({
            source: "job-queue",
            id: job.id,
            type: job.name,
            status: job.state,
            error: job.failedReason,
            payload: job.data ?? null,
            failed_at: iso(job.finishedAt),
            message_ids: [],
          });
        }
      }
      return items;
    },

    async redrive(actor: Actor, input: RedriveInput) {
      if (input.payload !== undefined && input.ids?.length !== 1) {
        throw new HttpProblem(422, "a replacement payload needs exactly one id", {
          type: "urn:taskflow:problem:validation",
          errors: [{ path: "/ids", message: "must hold exactly one id when payload is given" }],
        });
      }
      return input.source === "task-queue" ? redriveTasks(actor, input) : redriveJobs(actor, input);
    },

    /**
     * Drops task dead letters for good: those listed under `ids` (a task's id, or a message's
     * for one naming no known task), or the whole dead-letter queue. The tasks stay FAILED.
     */
    async purgeDeadLetters(actor: Actor, input: PurgeDeadLettersInput) {
      const queue = requireTaskQueue();
      let purged: number;
      let details: Record<string, unknown>;
      if (input.ids) {
        const wanted = new Set(input.ids);
        // As the list names them: by their task, else by their own id.
        const messageIds = (await queue.peekDeadLetters(DEAD_LETTER_WINDOW))
          .filter((message) => wanted.has(taskIdOf(message) ?? "") || wanted.has(message.id))
          .map((message) => message.id);
        purged = messageIds.length ? await queue.removeDeadLetters(messageIds) : 0;
        details = { requested: input.ids, message_ids: [...new Set(messageIds)], purged };
      } else {
        purged = await queue.purgeDeadLetters();
        details = { requested: "all", purged };
      }
      // The queue is an engine of its own: the record follows the action, as for jobs.
      await monitor.appendAudit({
        actor,
        action: "dead-letters.purge",
        target: "task-queue",
        details,
      });
      return { purged };
    },

    async retryTask(actor: Actor, id: string) {
      if (!UUID.test(id)) throw new HttpProblem(404, "no such task");
      const outcome = await tasks.retryFailed(id, {
        also: auditWith((changed) =>
          changed.length ? { actor, action: "task.retry", target: `task:${id}` } : undefined,
        ),
      });
      if (outcome.kind === "not_found") throw new HttpProblem(404, "no such task");
      if (outcome.kind === "not_retryable") {
        throw new HttpProblem(409, `a ${outcome.status} task cannot be retried (only FAILED)`);
      }
      if (taskQueue) {
        const letters = await deadLettersByTask(taskQueue, DEAD_LETTER_WINDOW).catch(
          () => new Map<string, QueueMessage[]>(),
        );
        await dropObsoleteDeadLetters(taskQueue, letters, [id]);
      }
      return toMonitorTask(outcome.task);
    },

    async cancelTask(actor: Actor, id: string) {
      if (!UUID.test(id)) throw new HttpProblem(404, "no such task");
      const outcome = await tasks.cancelAnyOwner(id, {
        also: auditWith(([task]) => ({
          actor,
          action: "task.cancel",
          target: `task:${id}`,
          details: { owner_id: task?.owner_id },
        })),
      });
      if (outcome.kind === "not_found") throw new HttpProblem(404, "no such task");
      if (outcome.kind === "not_cancellable") {
        throw new HttpProblem(
          409,
          `a ${outcome.status} task cannot be cancelled (only PENDING or RETRYING)`,
        );
      }
      return toMonitorTask(outcome.task);
    },

    async retryJob(actor: Actor, id: string) {
      const queue = requireJobQueue();
      const job = await queue.get(id);
      if (!job) throw new HttpProblem(404, "no such job");
      if (job.state !== "failed" || !(await queue.retry(id))) {
        throw new HttpProblem(409, `a ${job.state} job cannot be retried (only failed)`);
      }
      await monitor.appendAudit({ actor, action: "job.retry", target: `job:${id}` });
      const retried = await queue.get(id);
      return toMonitorJob(retried ?? job);
    },

    async removeJob(actor: Actor, id: string) {
      const queue = requireJobQueue();
      const job = await queue.get(id);
      if (!job) throw new HttpProblem(404, "no such job");
      if (job.state === "active" || !(await queue.remove(id))) {
        throw new HttpProblem(409, "the job is running: it cannot be removed now");
      }
      await monitor.appendAudit({
        actor,
        action: "job.remove",
        target: `job:${id}`,
        details: { name: job.name, state: job.state },
      });
    },

    async audit(query: { limit?: number | undefined; cursor?: string | undefined }) {
      const page = await monitor.listAudit({
        limit: query.limit ?? 20,
        before: query.cursor ? Number(decodeCursor(query.cursor, /^\d{1,18}$/)) : undefined,
      });
      return {
        items: page.items.map(toAuditEntry),
        next_cursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor),
      };
    },
  };
}

export type MonitorService = ReturnType<typeof createMonitorService>;

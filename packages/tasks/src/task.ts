import type { TaskRow, TaskStatus } from "@taskflow/db";

export { TASK_STATUSES, type TaskStatus } from "@taskflow/db";

/** Where the relay sends a task's "run me" message. */
export const TASK_QUEUE_DESTINATION = "task-queue";

/** The event stream topic of task lifecycle events (record key: the task id). */
export const TASKS_TOPIC = "tasks";
/** The envelope types of the events a task's end makes: `data` is TaskFinished. */
export const TASK_DONE = "task.done";
export const TASK_FAILED = "task.failed";

/** `data` of a task.done / task.failed event. */
export interface TaskFinished {
  task_id: string;
  owner_id: string;
  type: string;
  status: "DONE" | "FAILED";
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string;
}

/** NOTIFY channel carrying committed task status changes (JSON array of TaskChange). */
export const TASK_EVENTS_CHANNEL = "taskflow_task_events";

/** 0 is the most urgent, 9 the least: the scale of background jobs too. */
export const DEFAULT_TASK_PRIORITY = 5;
export const MAX_TASK_PRIORITY = 9;

/** The body of a task-queue message: just enough to find the task; the row is the truth. */
export interface TaskMessage {
  task_id: string;
  type: string;
  /** The task's priority, for engines that order by it (absent in messages from before). */
  priority?: number;
}

/** A committed status change, as told to live listeners. */
export interface TaskChange {
  owner_id: string;
  id: string;
  status: TaskStatus;
}

export const TERMINAL_STATUSES: readonly TaskStatus[] = ["DONE", "FAILED", "CANCELLED"];
export const CANCELLABLE_STATUSES: readonly TaskStatus[] = ["PENDING", "RETRYING"];

/** The public shape of a task (the HTTP contract). */
export interface TaskView {
  id: string;
  type: string;
  title: string | null;
  status: TaskStatus;
  attempts: number;
  max_attempts: number;
  payload: unknown;
  result: unknown;
  last_error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  run_at: string | null;
  priority: number;
}

export function toTaskView(row: TaskRow): TaskView {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    status: row.status,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    payload: row.payload ?? null,
    result: row.result ?? null,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
    run_at: row.run_at?.toISOString() ?? null,
    priority: row.priority,
  };
}

/**
 * Delay before retry number `attempt` (1 = first retry): exponential with "equal jitter",
 * so retries spread out but never come sooner than half the exponential step.
 */
export function retryDelayMs(
  attempt: number,
  { baseMs, maxMs }: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

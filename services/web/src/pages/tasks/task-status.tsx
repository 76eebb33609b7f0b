import type { TaskStatus } from "../../api/client.ts";

/** Every status, in the order of a task's life; a Record so a new status fails the build here. */
const LABELS: Record<TaskStatus, string> = {
  PENDING: "Pending",
  PROCESSING: "Processing",
  RETRYING: "Retrying",
  DONE: "Done",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};

export const TASK_STATUSES = Object.keys(LABELS) as TaskStatus[];

export function statusLabel(status: TaskStatus): string {
  return LABELS[status];
}

export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === "string" && Object.hasOwn(LABELS, value);
}

/** The API cancels only these (others answer 409). */
export function isCancellable(status: TaskStatus): boolean {
  return status === "PENDING" || status === "RETRYING";
}

export function isFinished(status: TaskStatus): boolean {
  return status === "DONE" || status === "FAILED" || status === "CANCELLED";
}

/** The status as text (colour only repeats it). */
export function StatusBadge({ status }: { status: TaskStatus }) {
  return <span className={`badge badge-${status.toLowerCase()}`}>{statusLabel(status)}</span>;
}

import type { DatabaseHandle } from "@taskflow/db";
import { TASK_EVENTS_CHANNEL, type TaskChange } from "@taskflow/tasks";
import { createOwnerEventHub, type OwnerEventHub } from "./owner-event-hub.ts";

/** Committed task status changes (a NOTIFY carries a JSON array of them), by owner. */
export function createTaskEventHub(database: DatabaseHandle, onError: (error: unknown) => void) {
  return createOwnerEventHub<TaskChange>(
    database,
    TASK_EVENTS_CHANNEL,
    (payload) => JSON.parse(payload) as TaskChange[],
    onError,
  );
}

export type TaskEventHub = OwnerEventHub<TaskChange>;

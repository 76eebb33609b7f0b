import type { TaskQueue } from "@taskflow/messaging";
import { TASK_QUEUE_DESTINATION } from "@taskflow/tasks";
import type { OutboxPublisher } from "./relay.ts";

/** Outbox destination → publisher, for the engines this deployment uses. */
export function outboxPublishers(engines: {
  taskQueue: TaskQueue;
}): Record<string, OutboxPublisher> {
  return {
    [TASK_QUEUE_DESTINATION]: (rows) =>
      engines.taskQueue.publish(
        rows.map((row) => ({ id: `outbox-${row.id}`, body: row.payload, headers: row.headers })),
      ),
  };
}

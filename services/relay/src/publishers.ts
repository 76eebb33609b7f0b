import {
  isNewJob,
  JOB_QUEUE_DESTINATION,
  type JobQueue,
  type NewJob,
  type TaskQueue,
} from "@taskflow/messaging";
import { TASK_QUEUE_DESTINATION, type TaskMessage } from "@taskflow/tasks";
import type { OutboxPublisher } from "./relay.ts";

/** Outbox destination → publisher, for the engines this deployment uses. */
export function outboxPublishers(engines: {
  taskQueue: TaskQueue;
  jobQueue?: JobQueue;
}): Record<string, OutboxPublisher> {
  const { jobQueue } = engines;
  return {
    [TASK_QUEUE_DESTINATION]: (rows) =>
      engines.taskQueue.publish(
        rows.map((row) => ({
          id: `outbox-${row.id}`,
          body: row.payload,
          headers: row.headers,
          priority: (row.payload as Partial<TaskMessage>).priority,
        })),
      ),
    ...(jobQueue && {
      [JOB_QUEUE_DESTINATION]: (rows) =>
        jobQueue.add(
          rows.map((row): NewJob => {
            // Written by our own producers: a row that is not a job is a bug, not bad input.
            if (!isNewJob(row.payload)) throw new Error(`outbox row ${row.id} is not a job`);
            return row.payload;
          }),
        ),
    }),
  };
}

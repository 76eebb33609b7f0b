import type { OutboxRow } from "@taskflow/db";
import {
  EVENT_BUS_DESTINATION,
  type EventBus,
  type EventEnvelope,
  type EventStream,
  eventStreamDestination,
  isEventBatch,
  isEventEnvelope,
  isNewJob,
  JOB_QUEUE_DESTINATION,
  type JobQueue,
  type NewJob,
  type TaskQueue,
} from "@taskflow/messaging";
import { TASK_QUEUE_DESTINATION, type TaskMessage } from "@taskflow/tasks";
import type { OutboxPublisher } from "./relay.ts";

/** Written by our own producers: a row that is not an event is a bug, not bad input. */
function envelopeOf(row: OutboxRow): EventEnvelope {
  if (!isEventEnvelope(row.payload)) throw new Error(`outbox row ${row.id} is not an event`);
  return row.payload;
}

/** Outbox destination → publisher, for the engines this deployment uses. */
export function outboxPublishers(engines: {
  taskQueue: TaskQueue;
  jobQueue?: JobQueue;
  eventBus?: EventBus;
  /** With the topics whose events the outbox holds. */
  eventStream?: { stream: EventStream; topics: readonly string[] };
}): Record<string, OutboxPublisher> {
  const { jobQueue, eventBus, eventStream } = engines;
  const streamPublishers: Record<string, OutboxPublisher> = {};
  if (eventStream) {
    const { stream, topics } = eventStream;
    for (const topic of topics) {
      streamPublishers[eventStreamDestination(topic)] = (rows) =>
        stream.append(
          topic,
          rows.flatMap((row) => {
            const headers = row.headers;
            if (isEventBatch(row.payload)) {
              return row.payload.events.map(({ key, event }) => ({
                id: event.id,
                key,
                value: event,
                headers,
              }));
            }
            const event = envelopeOf(row);
            return [{ id: event.id, key: row.message_key ?? event.id, value: event, headers }];
          }),
        );
    }
  }
  return {
    ...streamPublishers,
    ...(eventBus && {
      [EVENT_BUS_DESTINATION]: (rows) =>
        eventBus.publish(
          rows.map((row) => {
            const event = envelopeOf(row);
            return {
              id: event.id,
              routingKey: row.message_key ?? event.type,
              body: event,
              headers: row.headers,
            };
          }),
        ),
    }),
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

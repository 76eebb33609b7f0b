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
import {
  endSpan,
  startMessagingSpan,
  TRACEPARENT,
  type Tracer,
  traceparentFrom,
  traceparentOf,
  withTraceparent,
} from "@taskflow/observability";
import { TASK_QUEUE_DESTINATION, type TaskMessage } from "@taskflow/tasks";
import type { OutboxPublisher } from "./relay.ts";

/** Written by our own producers: a row that is not an event is a bug, not bad input. */
function envelopeOf(row: OutboxRow): EventEnvelope {
  if (!isEventEnvelope(row.payload)) throw new Error(`outbox row ${row.id} is not an event`);
  return row.payload;
}

/** `messaging.system` of an engine (the conventions' names where they have one). */
const messagingSystem = (engine: string) => (engine === "embedded" ? "taskflow.embedded" : engine);

/**
 * Publishes with one PRODUCER span per message when tracing is on: a child of the context
 * the outbox row carries (the request's), whose own context goes in the message's headers —
 * so the consumer's span is its child. Off: `publish` as is, nothing allocated.
 */
async function traced<M extends { headers?: Record<string, string> | undefined }>(
  tracer: Tracer | undefined,
  m: { system: string; destination: string; operationName: string },
  messages: M[],
  idOf: (message: M) => string,
  publish: (messages: M[]) => Promise<void>,
): Promise<void> {
  if (!tracer) return publish(messages);
  const spans = messages.map((message) =>
    startMessagingSpan(
      tracer,
      { ...m, operation: "send", messageId: idOf(message) },
      { parent: traceparentFrom(message.headers) },
    ),
  );
  const injected = messages.map((message, i) => ({
    ...message,
    headers: withTraceparent(message.headers, traceparentOf(spans[i] as (typeof spans)[number])),
  }));
  try {
    await publish(injected);
  } catch (error) {
    for (const span of spans) endSpan(span, error);
    throw error;
  }
  for (const span of spans) span.end();
}

/** Outbox destination → publisher, for the engines this deployment uses. */
export function outboxPublishers(engines: {
  taskQueue: TaskQueue;
  jobQueue?: JobQueue;
  eventBus?: EventBus;
  /** With the topics whose events the outbox holds. */
  eventStream?: { stream: EventStream; topics: readonly string[] };
  /** The relay's tracer; undefined: tracing is off (headers pass through as they are). */
  tracer?: Tracer | undefined;
}): Record<string, OutboxPublisher> {
  const { jobQueue, eventBus, eventStream, tracer } = engines;
  const streamPublishers: Record<string, OutboxPublisher> = {};
  if (eventStream) {
    const { stream, topics } = eventStream;
    for (const topic of topics) {
      streamPublishers[eventStreamDestination(topic)] = (rows) =>
        traced(
          tracer,
          { system: messagingSystem(stream.engine), destination: topic, operationName: "append" },
          rows.flatMap((row) => {
            const headers = row.headers;
            if (isEventBatch(row.payload)) {
              return row.payload.events.map((e) => ({
                id: e.event.id,
                key: e.key,
                value: e.event,
                headers: e.headers ?? headers,
              }));
            }
            const event = envelopeOf(row);
            return [{ id: event.id, key: row.message_key ?? event.id, value: event, headers }];
          }),
          (record) => record.id,
          (records) => stream.append(topic, records),
        );
    }
  }
  return {
    ...streamPublishers,
    ...(eventBus && {
      [EVENT_BUS_DESTINATION]: (rows) =>
        traced(
          tracer,
          {
            system: messagingSystem(eventBus.engine),
            destination: eventBus.name,
            operationName: "publish",
          },
          rows.map((row) => {
            const event = envelopeOf(row);
            return {
              id: event.id,
              routingKey: row.message_key ?? event.type,
              body: event,
              headers: row.headers,
            };
          }),
          (message) => message.id,
          (messages) => eventBus.publish(messages),
        ),
    }),
    [TASK_QUEUE_DESTINATION]: (rows) =>
      traced(
        tracer,
        {
          system: messagingSystem(engines.taskQueue.engine),
          destination: engines.taskQueue.name,
          operationName: "publish",
        },
        rows.map((row) => ({
          id: `outbox-${row.id}`,
          body: row.payload,
          headers: row.headers,
          priority: (row.payload as Partial<TaskMessage>).priority,
        })),
        (message) => message.id,
        (messages) => engines.taskQueue.publish(messages),
      ),
    ...(jobQueue && {
      [JOB_QUEUE_DESTINATION]: (rows) =>
        traced(
          tracer,
          {
            system: jobQueue.engine === "redis" ? "bullmq" : messagingSystem(jobQueue.engine),
            destination: jobQueue.name,
            operationName: "add",
          },
          rows.map((row): NewJob => {
            // Written by our own producers: a row that is not a job is a bug, not bad input.
            if (!isNewJob(row.payload)) throw new Error(`outbox row ${row.id} is not a job`);
            // The row's headers (its trace context) become the job's.
            return row.headers?.[TRACEPARENT]
              ? { ...row.payload, headers: row.headers }
              : row.payload;
          }),
          (job) => job.jobId,
          (jobs) => jobQueue.add(jobs),
        ),
    }),
  };
}

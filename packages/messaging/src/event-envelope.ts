import { uuidv7 } from "uuidv7";

/**
 * One envelope for every domain event, whatever carries it (the event bus, the event stream):
 * the id consumers dedupe by, what happened, when, and the data in a versioned schema. The
 * trace context travels in the message headers, not in here.
 */
export interface EventEnvelope<T = unknown> {
  id: string;
  type: string;
  /** ISO 8601. */
  occurred_at: string;
  data: T;
  schema_version: number;
}

export function eventEnvelope<T>(
  type: string,
  data: T,
  options: { id?: string; occurredAt?: Date; schemaVersion?: number } = {},
): EventEnvelope<T> {
  return {
    id: options.id ?? uuidv7(),
    type,
    occurred_at: (options.occurredAt ?? new Date()).toISOString(),
    data,
    schema_version: options.schemaVersion ?? 1,
  };
}

export function isEventEnvelope(value: unknown): value is EventEnvelope {
  if (!value || typeof value !== "object") return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.id === "string" &&
    typeof e.type === "string" &&
    typeof e.occurred_at === "string" &&
    typeof e.schema_version === "number" &&
    "data" in e
  );
}

/**
 * Several events in one outbox row, each with its record key: a statement that ends a batch
 * of tasks writes one row for all their events rather than one per task (the outbox row, its
 * delete and the relay's handling are paid once per batch). The relay appends one stream
 * record per event.
 */
export interface EventBatch {
  /**
   * `headers`: the event's own message headers (its trace context: each task of a batch has
   * its own), used instead of the row's.
   */
  events: { key: string; event: EventEnvelope; headers?: Record<string, string> }[];
}

export function isEventBatch(value: unknown): value is EventBatch {
  if (!value || typeof value !== "object") return false;
  const events = (value as { events?: unknown }).events;
  return (
    Array.isArray(events) &&
    events.every(
      (e) =>
        !!e &&
        typeof e === "object" &&
        typeof (e as { key?: unknown }).key === "string" &&
        isEventEnvelope((e as { event?: unknown }).event),
    )
  );
}

/**
 * Outbox destinations of domain events. On the event bus the row's `message_key` is the
 * routing key and the payload the EventEnvelope; on the event stream, `event-stream:<topic>`,
 * the payload is an EventEnvelope keyed by `message_key`, or an EventBatch.
 */
export const EVENT_BUS_DESTINATION = "event-bus";
export const eventStreamDestination = (topic: string) => `event-stream:${topic}`;

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
 * Outbox destinations of domain events. On the event bus the row's `message_key` is the
 * routing key; on the event stream, `event-stream:<topic>`, it is the record key. Either way
 * the payload is the EventEnvelope.
 */
export const EVENT_BUS_DESTINATION = "event-bus";
export const eventStreamDestination = (topic: string) => `event-stream:${topic}`;

import { type EventEnvelope, isEventEnvelope, type StoredRecord } from "@taskflow/messaging";
import { ORDER_CREATED, type OrderCreated } from "@taskflow/orders";
import { TASK_DONE, TASK_FAILED, type TaskFinished } from "@taskflow/tasks";

/** The envelope version this service reads; anything else is ignored (and logged). */
export const ANALYTICS_SCHEMA_VERSION = 1;

/** What an order.created event adds: one order, its revenue, and its lines by product. */
export interface OrderFact {
  kind: "order";
  eventId: string;
  /** The minute (UTC) of the order's created_at. */
  minute: Date;
  currency: string;
  totalCents: number;
  lines: { sku: string; name: string; quantity: number; revenueCents: number }[];
}

/** What a task.done / task.failed event adds; `durationMs` (time-to-DONE) for DONE only. */
export interface TaskFact {
  kind: "task";
  eventId: string;
  /** The minute (UTC) of the task's finished_at. */
  minute: Date;
  status: "DONE" | "FAILED";
  durationMs: number | null;
}

export type AnalyticsFact = OrderFact | TaskFact;

/** Why a record was not counted (it is still committed: it would never count). */
export interface IgnoredRecord {
  eventId: string;
  reason: string;
  /** An event of a type this service does not count (expected), not a malformed one. */
  foreign: boolean;
}

const MINUTE_MS = 60_000;

/** The start of the UTC minute `at` falls in. */
export function minuteOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / MINUTE_MS) * MINUTE_MS);
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object";
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isCents = (v: unknown): v is number => Number.isSafeInteger(v);

function parseTime(value: unknown): Date | undefined {
  if (typeof value !== "string") return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

function orderFact(event: EventEnvelope): OrderFact | string {
  const data = event.data as Partial<OrderCreated> | undefined;
  if (!isObject(data)) return "order.created without data";
  const createdAt = parseTime(data.created_at);
  if (!createdAt) return "order.created without a valid created_at";
  if (typeof data.currency !== "string" || !data.currency) return "order.created without currency";
  if (!isCents(data.total_cents)) return "order.created without whole total_cents";
  if (!Array.isArray(data.items)) return "order.created without items";
  const lines: OrderFact["lines"] = [];
  for (const item of data.items as unknown[]) {
    if (
      !isObject(item) ||
      typeof item.sku !== "string" ||
      typeof item.name !== "string" ||
      !isCount(item.quantity) ||
      !isCents(item.line_total_cents)
    ) {
      return "order.created with a malformed item";
    }
    lines.push({
      sku: item.sku,
      name: item.name,
      quantity: item.quantity,
      revenueCents: item.line_total_cents,
    });
  }
  return {
    kind: "order",
    eventId: event.id,
    minute: minuteOf(createdAt),
    currency: data.currency,
    totalCents: data.total_cents,
    lines,
  };
}

function taskFact(event: EventEnvelope, status: "DONE" | "FAILED"): TaskFact | string {
  const data = event.data as Partial<TaskFinished> | undefined;
  if (!isObject(data)) return `${event.type} without data`;
  const finishedAt = parseTime(data.finished_at);
  if (!finishedAt) return `${event.type} without a valid finished_at`;
  let durationMs: number | null = null;
  if (status === "DONE") {
    const createdAt = parseTime(data.created_at);
    if (!createdAt) return `${event.type} without a valid created_at`;
    durationMs = finishedAt.getTime() - createdAt.getTime();
  }
  return { kind: "task", eventId: event.id, minute: minuteOf(finishedAt), status, durationMs };
}

/**
 * The facts of a batch of `orders` / `tasks` records. Records of other types (events this
 * service does not count), of another schema version or malformed are ignored, with why.
 */
export function analyticsFacts(records: readonly StoredRecord[]): {
  facts: AnalyticsFact[];
  ignored: IgnoredRecord[];
} {
  const facts: AnalyticsFact[] = [];
  const ignored: IgnoredRecord[] = [];
  for (const record of records) {
    const event = record.value;
    if (!isEventEnvelope(event)) {
      ignored.push({ eventId: record.id, reason: "not an event envelope", foreign: false });
      continue;
    }
    if (event.schema_version !== ANALYTICS_SCHEMA_VERSION) {
      ignored.push({
        eventId: event.id,
        reason: `schema_version ${event.schema_version}`,
        foreign: false,
      });
      continue;
    }
    let fact: AnalyticsFact | string;
    if (event.type === ORDER_CREATED) fact = orderFact(event);
    else if (event.type === TASK_DONE) fact = taskFact(event, "DONE");
    else if (event.type === TASK_FAILED) fact = taskFact(event, "FAILED");
    else {
      ignored.push({ eventId: event.id, reason: `type ${event.type}`, foreign: true });
      continue;
    }
    if (typeof fact === "string") ignored.push({ eventId: event.id, reason: fact, foreign: false });
    else facts.push(fact);
  }
  return { facts, ignored };
}

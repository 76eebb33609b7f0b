import { traceIdOf } from "@taskflow/observability";
import { isUuid } from "../../http/cursor.ts";
import { HttpProblem } from "../../http/problem.ts";
import type { JourneyRepository, OrderJourneyRow, TaskJourneyRow } from "./journey.repository.ts";

export interface JourneyHop {
  service: string;
  step: string;
  at: string;
  duration_ms: number | null;
  trace_id: string | null;
}

export interface Journey {
  id: string;
  trace_id: string | null;
  hops: JourneyHop[];
}

const ms = (from: Date, to: Date) => Math.max(0, to.getTime() - from.getTime());

/** The hops of a task, from its row (see docs/ARCHITECTURE.md, "Journeys"). */
export function taskJourney(row: TaskJourneyRow): Journey {
  const traceId = traceIdOf(row.traceparent);
  const hops: JourneyHop[] = [];
  const hop = (service: string, step: string, at: Date, durationMs: number | null) =>
    hops.push({ service, step, at: at.toISOString(), duration_ms: durationMs, trace_id: traceId });
  hop("api", "accepted: task and its queue message stored", row.created_at, 0);
  // Due at run_at when it had one: the wait before that is the schedule's, not the pipeline's.
  const due = row.run_at && row.run_at > row.created_at ? row.run_at : row.created_at;
  const firstClaim = row.first_started_at;
  hop(
    "relay",
    "queued: outbox → task queue → a worker's claim",
    due,
    firstClaim ? ms(due, firstClaim) : null,
  );
  const ended = row.finished_at;
  if (firstClaim) {
    const onlyOne = row.attempts <= 1;
    hop(
      "worker",
      onlyOne ? "attempt 1" : `attempt 1 of ${row.attempts}`,
      firstClaim,
      onlyOne && ended ? ms(firstClaim, ended) : null,
    );
    if (!onlyOne && row.started_at && row.started_at > firstClaim) {
      hop(
        "worker",
        `attempt ${row.attempts} (after ${row.attempts - 1} failed${row.last_error ? `: ${row.last_error}` : ""})`,
        row.started_at,
        ended ? ms(row.started_at, ended) : null,
      );
    }
  }
  if (ended) {
    hop(row.status === "CANCELLED" ? "api" : "worker", row.status.toLowerCase(), ended, 0);
  }
  if (ended && row.counted_at) {
    hop(
      "analytics",
      `counted task.${row.status.toLowerCase()}`,
      row.counted_at,
      ms(ended, row.counted_at),
    );
  }
  return { id: row.id, trace_id: traceId, hops: sortHops(hops) };
}

/** The hops of an order, from its row, notification, email job and analytics' record. */
export function orderJourney(row: OrderJourneyRow): Journey {
  const traceId = traceIdOf(row.traceparent);
  const hops: JourneyHop[] = [];
  const hop = (service: string, step: string, at: Date, durationMs: number | null) =>
    hops.push({ service, step, at: at.toISOString(), duration_ms: durationMs, trace_id: traceId });
  if (row.validated_ms !== null) {
    hop(
      "validator",
      "validated and priced (gRPC)",
      new Date(row.created_at.getTime() - row.validated_ms),
      row.validated_ms,
    );
  }
  hop("api", "stored: order and its order.created event", row.created_at, 0);
  if (row.notified_at) {
    hop(
      "notifier",
      "notification made (relay → event bus → notifier)",
      row.created_at,
      ms(row.created_at, row.notified_at),
    );
  }
  if (row.email_added_at) {
    hop(
      "relay",
      "confirmation email queued (outbox → job queue)",
      row.email_added_at,
      row.email_started_at ? ms(row.email_added_at, row.email_started_at) : null,
    );
  }
  if (row.email_started_at) {
    hop(
      "mailer",
      row.email_state === "completed"
        ? "confirmation email sent"
        : `confirmation email ${row.email_state ?? "running"}`,
      row.email_started_at,
      row.email_finished_at ? ms(row.email_started_at, row.email_finished_at) : null,
    );
  }
  if (row.counted_at) {
    hop(
      "analytics",
      "counted order.created (relay → event stream → analytics)",
      row.created_at,
      ms(row.created_at, row.counted_at),
    );
  }
  return { id: row.id, trace_id: traceId, hops: sortHops(hops) };
}

/** By start time; hops that start together keep the pipeline's order. */
function sortHops(hops: JourneyHop[]): JourneyHop[] {
  return hops
    .map((hop, i) => ({ hop, i, t: Date.parse(hop.at) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map(({ hop }) => hop);
}

/** The journeys behind GET /api/tasks/{id}/journey and /api/orders/{id}/journey. */
export function createJourneyService(deps: { journeys: JourneyRepository }) {
  return {
    async task(ownerId: string, id: string): Promise<Journey> {
      // Someone else's task and no task at all answer the same: 404.
      const row = isUuid(id) ? await deps.journeys.task(ownerId, id) : undefined;
      if (!row) throw new HttpProblem(404, "no such task");
      return taskJourney(row);
    },
    async order(ownerId: string, id: string): Promise<Journey> {
      const row = isUuid(id) ? await deps.journeys.order(ownerId, id) : undefined;
      if (!row) throw new HttpProblem(404, "no such order");
      return orderJourney(row);
    },
  };
}

export type JourneyService = ReturnType<typeof createJourneyService>;

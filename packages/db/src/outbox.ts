import { type Kysely, sql } from "kysely";
import { PREPARED } from "./prepared.ts";
import type { Database, OutboxRow } from "./schema.ts";

/** NOTIFY channel that wakes the relay when a transaction commits outbox rows. */
export const OUTBOX_CHANNEL = "taskflow_outbox";

/** A message promised to an engine, written in the same transaction as the change it reports. */
export interface OutboxMessage {
  /** Where the relay sends it, e.g. "task-queue". */
  destination: string;
  /** Partition / routing key where the engine has one. */
  key?: string | null;
  payload: unknown;
  headers?: Record<string, string>;
  /** Not before this time (retry backoff); now when omitted. */
  availableAt?: Date;
}

/**
 * Adds messages to the outbox and wakes the relay, in one statement on the caller's
 * transaction: the NOTIFY is delivered only if that transaction commits.
 */
export async function appendToOutbox(
  trx: Kysely<Database>,
  messages: readonly OutboxMessage[],
): Promise<void> {
  if (messages.length === 0) return;
  await trx
    .with("appended", (qb) =>
      qb.insertInto("outbox").values(
        messages.map((m) => ({
          destination: m.destination,
          message_key: m.key ?? null,
          payload: JSON.stringify(m.payload),
          headers: JSON.stringify(m.headers ?? {}),
          ...(m.availableAt ? { available_at: m.availableAt } : {}),
        })),
      ),
    )
    .selectNoFrom(sql<string>`pg_notify(${OUTBOX_CHANNEL}, '')`.as("notified"))
    .execute();
}

/** The relay's look at the outbox: what is due now, and when the next delayed message is. */
export interface DueOutbox {
  /** The oldest due messages, at most the limit asked for. */
  due: OutboxRow[];
  /** Milliseconds until the next message that is not due yet; undefined when none waits. */
  nextDueInMs: number | undefined;
}

/**
 * Deletes the messages the engines have confirmed (`confirmed`) and reads the next due ones
 * and the time of the next delayed one — one statement, so a relay round under load costs
 * one round trip. (The read sees the outbox as it was before the delete: it skips those ids.)
 */
export async function takeDueOutbox(
  db: Kysely<Database>,
  confirmed: readonly number[],
  limit: number,
): Promise<DueOutbox> {
  const ids = [...confirmed];
  const { rows } = await sql<OutboxRow & { due_in_ms: number }>`${sql.raw(PREPARED)}
    WITH confirmed AS (DELETE FROM outbox WHERE id = ANY(${ids}::bigint[]))
    (SELECT *, 0::float8 AS due_in_ms FROM outbox
     WHERE available_at <= now() AND id <> ALL(${ids}::bigint[])
     ORDER BY available_at, id LIMIT ${limit})
    UNION ALL
    (SELECT *, extract(epoch from (available_at - now())) * 1000 FROM outbox
     WHERE available_at > now()
     ORDER BY available_at, id LIMIT 1)
  `.execute(db);
  const due: OutboxRow[] = [];
  let nextDueInMs: number | undefined;
  for (const { due_in_ms, ...row } of rows) {
    if (due_in_ms > 0) nextDueInMs = due_in_ms;
    else due.push(row);
  }
  return { due, nextDueInMs };
}

/** Removes messages the engines have confirmed. */
export async function deleteOutbox(db: Kysely<Database>, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`${sql.raw(PREPARED)} DELETE FROM outbox WHERE id = ANY(${[...ids]}::bigint[])`.execute(
    db,
  );
}

/** Holds messages back for `ms` (their engine refused them: the relay tries again later). */
export async function postponeOutbox(
  db: Kysely<Database>,
  ids: readonly number[],
  ms: number,
): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("outbox")
    .set({ available_at: sql<Date>`now() + ${ms} * interval '1 millisecond'` })
    .where("id", "=", sql<number>`ANY(${sql.val(ids)}::bigint[])`)
    .execute();
}

export async function outboxLag(
  db: Kysely<Database>,
): Promise<{ pending: number; oldestSeconds: number }> {
  const row = await db
    .selectFrom("outbox")
    .select([
      sql<number>`count(*)::int`.as("pending"),
      sql<number>`coalesce(extract(epoch from now() - min(created_at)), 0)::float8`.as("oldest"),
    ])
    .where("available_at", "<=", sql<Date>`now()`)
    .executeTakeFirstOrThrow();
  return { pending: row.pending, oldestSeconds: row.oldest };
}

import { type Database, type Kysely, sql, type TaskStatus } from "@taskflow/db";
import { TASK_EVENTS_CHANNEL, type TaskChange } from "./task.ts";

export interface Transition extends TaskChange {
  /** The status before; absent for a task just created. */
  from?: TaskStatus | undefined;
}

// pg_notify payloads are capped at 8000 bytes; a change is ~100 bytes as JSON.
const CHANGES_PER_NOTIFY = 50;

/**
 * Records committed-together status changes: adjusts the per-owner counters and tells live
 * listeners, on the caller's transaction. Call it last in the transaction: the counter rows
 * are hot, and their locks are then held only until the commit. Rows are locked in
 * (owner_id, status) order in every transaction, so concurrent batches cannot deadlock.
 */
export async function recordTransitions(
  trx: Kysely<Database>,
  transitions: readonly Transition[],
): Promise<void> {
  if (transitions.length === 0) return;
  const deltas = new Map<string, number>();
  const bump = (owner: string, status: TaskStatus, by: number) => {
    const key = `${owner} ${status}`;
    deltas.set(key, (deltas.get(key) ?? 0) + by);
  };
  for (const t of transitions) {
    if (t.from === t.status) continue;
    if (t.from) bump(t.owner_id, t.from, -1);
    bump(t.owner_id, t.status, 1);
  }
  const owners: string[] = [];
  const statuses: string[] = [];
  const counts: number[] = [];
  for (const [key, delta] of [...deltas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (delta === 0) continue;
    const [owner, status] = key.split(" ") as [string, string];
    owners.push(owner);
    statuses.push(status);
    counts.push(delta);
  }
  const notices: string[] = [];
  for (let i = 0; i < transitions.length; i += CHANGES_PER_NOTIFY) {
    notices.push(
      JSON.stringify(
        transitions
          .slice(i, i + CHANGES_PER_NOTIFY)
          .map(({ owner_id, id, status }) => ({ owner_id, id, status })),
      ),
    );
  }
  await sql`
    WITH counted AS (
      INSERT INTO task_counts (owner_id, status, count)
      SELECT * FROM unnest(${owners}::uuid[], ${statuses}::text[], ${counts}::bigint[])
      ORDER BY 1, 2
      ON CONFLICT (owner_id, status) DO UPDATE SET count = task_counts.count + excluded.count
    )
    SELECT pg_notify(${TASK_EVENTS_CHANNEL}, notice) FROM unnest(${notices}::text[]) AS notice
  `.execute(trx);
}

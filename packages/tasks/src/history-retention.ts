import { type Database, type Kysely, sql, type TaskStatus } from "@taskflow/db";

export interface PruneOptions {
  /** Tasks and jobs that finished longer ago than this are deleted. */
  olderThanDays: number;
  /** Rows deleted per transaction (default 1,000): short transactions, short locks. */
  batchSize?: number;
  /** Stops between two batches (a process shutting down). */
  signal?: AbortSignal;
}

export interface PruneResult {
  tasks: number;
  jobs: number;
}

const FINISHED: readonly TaskStatus[] = ["DONE", "FAILED", "CANCELLED"];
const DEFAULT_BATCH = 1_000;

function cutoff(days: number) {
  return sql<Date>`now() - ${`${days} days`}::interval`;
}

/**
 * One batch of finished tasks, deleted with their counters in one transaction: the counters
 * stay equal to the table. Counter rows are updated last and in (owner_id, status) order,
 * like every status change (recordTransitions), so this cannot deadlock with the pipeline.
 * Tasks locked by someone else (an operator retrying one) are left for the next pass.
 */
async function pruneTaskBatch(db: Kysely<Database>, days: number, limit: number) {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ owner_id: string; status: TaskStatus }>`
      DELETE FROM tasks t
      USING (
        SELECT id FROM tasks
        WHERE finished_at IS NOT NULL AND finished_at < ${cutoff(days)}
          AND status IN (${sql.join(FINISHED)})
        ORDER BY finished_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      ) old
      WHERE t.id = old.id AND t.status IN (${sql.join(FINISHED)})
      RETURNING t.owner_id, t.status
    `.execute(trx);
    if (rows.length === 0) return 0;
    const deltas = new Map<string, number>();
    for (const row of rows) {
      const key = `${row.owner_id} ${row.status}`;
      deltas.set(key, (deltas.get(key) ?? 0) - 1);
    }
    const keys = [...deltas.keys()].sort();
    const owners = keys.map((key) => key.split(" ")[0] as string);
    const statuses = keys.map((key) => key.split(" ")[1] as string);
    const counts = keys.map((key) => deltas.get(key) ?? 0);
    await sql`
      INSERT INTO task_counts (owner_id, status, count)
      SELECT * FROM unnest(${owners}::uuid[], ${statuses}::text[], ${counts}::bigint[])
      ORDER BY 1, 2
      ON CONFLICT (owner_id, status) DO UPDATE SET count = task_counts.count + excluded.count
    `.execute(trx);
    return rows.length;
  });
}

/** One batch of job history: finished jobs, and purged ones that never finished. */
async function pruneJobBatch(db: Kysely<Database>, days: number, limit: number) {
  const { rows } = await sql<{ job_id: string }>`
    DELETE FROM job_history h
    USING (
      (SELECT queue, job_id FROM job_history
       WHERE finished_at IS NOT NULL AND finished_at < ${cutoff(days)}
       LIMIT ${limit})
      UNION
      (SELECT queue, job_id FROM job_history
       WHERE finished_at IS NULL AND removed_at IS NOT NULL AND removed_at < ${cutoff(days)}
       LIMIT ${limit})
    ) old
    WHERE h.queue = old.queue AND h.job_id = old.job_id
    RETURNING h.job_id
  `.execute(db);
  return rows.length;
}

/**
 * The retention of the history: deletes tasks that finished (DONE, FAILED, CANCELLED) more
 * than `olderThanDays` ago, keeping task_counts equal to the table, and job_history rows of
 * jobs that finished (or were purged) before then; in bounded batches until none is left.
 * Safe to run in several processes at once.
 */
export async function pruneHistory(
  db: Kysely<Database>,
  options: PruneOptions,
): Promise<PruneResult> {
  const days = options.olderThanDays;
  if (!Number.isInteger(days) || days < 1) throw new RangeError("olderThanDays must be ≥ 1");
  const limit = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError("batchSize must be ≥ 1");
  const pruned: PruneResult = { tasks: 0, jobs: 0 };
  let more = true;
  while (more && !options.signal?.aborted) {
    const n = await pruneTaskBatch(db, days, limit);
    pruned.tasks += n;
    more = n === limit;
  }
  more = true;
  while (more && !options.signal?.aborted) {
    const n = await pruneJobBatch(db, days, limit);
    pruned.jobs += n;
    // The two halves of a batch each take up to `limit`: a full one of either means more.
    more = n >= limit;
  }
  return pruned;
}

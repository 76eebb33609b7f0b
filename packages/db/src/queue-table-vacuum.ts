import { sql } from "kysely";
import type { DatabaseHandle } from "./database.ts";

/** Tables whose rows are deleted soon after they are written. */
export type QueueTable = "outbox" | "queue_messages";

/**
 * Counts what its owner deleted from a queue table and VACUUMs (ANALYZE) the table every
 * `every` rows, beside the work that deletes them (a pooled connection on PostgreSQL), never
 * two at once. A table that churns this fast outruns autovacuum, and PGlite runs no autovacuum
 * at all: without it the dead rows slow every scan and, on PGlite, the file only grows.
 */
export interface QueueTableVacuum {
  /** `count` rows were deleted (committed): a VACUUM starts once `every` have been. */
  deleted(count: number): void;
  /** Resolves when no VACUUM is running (one in progress is waited for). */
  settled(): Promise<void>;
}

/**
 * Deleted rows between two VACUUMs: 2,000 on PostgreSQL; 20,000 on PGlite, where a VACUUM
 * holds up every statement of the process (every 2,000 cost the embedded task bench 16 %).
 */
export function defaultVacuumEvery(database: DatabaseHandle): number {
  return database.engine === "pglite" ? 20_000 : 2_000;
}

export function createQueueTableVacuum(
  database: DatabaseHandle,
  table: QueueTable,
  options: { every?: number | undefined; onError: (error: Error) => void },
): QueueTableVacuum {
  const every = options.every ?? defaultVacuumEvery(database);
  let deletedSince = 0;
  let running: Promise<void> | undefined;
  return {
    deleted(count) {
      deletedSince += count;
      if (deletedSince < every || running) return;
      deletedSince = 0;
      running = sql`VACUUM (ANALYZE) ${sql.table(table)}`
        .execute(database.db)
        .then(
          () => {},
          (error: unknown) =>
            options.onError(error instanceof Error ? error : new Error(String(error))),
        )
        .finally(() => {
          running = undefined;
        });
    },
    async settled() {
      await running;
    },
  };
}

import { type Database, type Kysely, pageOf, type ScheduleRow, sql } from "@taskflow/db";
import { uuidv7 } from "uuidv7";

export interface NewSchedule {
  ownerId: string;
  name: string;
  cron: string;
  timezone: string;
  taskType: string;
  taskTitle: string | null;
  taskPayload: unknown;
  taskMaxAttempts: number;
  /** 0 … 9; the default task priority when absent. */
  taskPriority?: number | undefined;
  /** The first tick (computed from the cron expression by the caller). */
  nextRunAt: Date;
}

/** Schedules: every read and change is scoped by owner, except the scheduler's own two. */
export function createScheduleRepository(db: Kysely<Database>) {
  const owned = (ownerId: string, id: string) =>
    db.selectFrom("schedules").selectAll().where("id", "=", id).where("owner_id", "=", ownerId);

  return {
    async create(input: NewSchedule): Promise<ScheduleRow> {
      return db
        .insertInto("schedules")
        .values({
          id: uuidv7(),
          owner_id: input.ownerId,
          name: input.name,
          cron: input.cron,
          timezone: input.timezone,
          task_type: input.taskType,
          task_title: input.taskTitle,
          task_payload: JSON.stringify(input.taskPayload ?? {}),
          task_max_attempts: input.taskMaxAttempts,
          ...(input.taskPriority === undefined ? {} : { task_priority: input.taskPriority }),
          next_run_at: input.nextRunAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    },

    get(ownerId: string, id: string): Promise<ScheduleRow | undefined> {
      return owned(ownerId, id).executeTakeFirst();
    },

    /** Newest first; `after` is the last id of the previous page. */
    async list(ownerId: string, options: { limit: number; after?: string | undefined }) {
      let query = db
        .selectFrom("schedules")
        .selectAll()
        .where("owner_id", "=", ownerId)
        .orderBy("id", "desc")
        .limit(options.limit + 1);
      if (options.after) query = query.where("id", "<", options.after);
      const rows = await query.execute();
      return pageOf(rows, options.limit);
    },

    /** Pauses or resumes; a resumed schedule fires next at `nextRunAt` (not its missed ticks). */
    async setPaused(ownerId: string, id: string, paused: boolean, nextRunAt?: Date) {
      return db
        .updateTable("schedules")
        .set({
          paused,
          ...(nextRunAt ? { next_run_at: nextRunAt } : {}),
          updated_at: sql`now()`,
        })
        .where("id", "=", id)
        .where("owner_id", "=", ownerId)
        .returningAll()
        .executeTakeFirst();
    },

    async delete(ownerId: string, id: string): Promise<boolean> {
      const result = await db
        .deleteFrom("schedules")
        .where("id", "=", id)
        .where("owner_id", "=", ownerId)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    /** Active schedules whose tick has come, earliest first (the scheduler's query). */
    due(now: Date, limit: number): Promise<ScheduleRow[]> {
      return db
        .selectFrom("schedules")
        .selectAll()
        .where("paused", "=", false)
        .where("next_run_at", "<=", now)
        .orderBy("next_run_at")
        .limit(limit)
        .execute();
    },

    /** When the earliest active schedule is due, or undefined if none is. */
    async nextDue(): Promise<Date | undefined> {
      const row = await db
        .selectFrom("schedules")
        .select((eb) => eb.fn.min("next_run_at").as("next"))
        .where("paused", "=", false)
        .executeTakeFirst();
      return row?.next ? new Date(row.next as Date) : undefined;
    },

    /**
     * Moves a schedule from the tick it fired to the next one — only if it is still at that
     * tick: of several schedulers that fired the same tick, one advances it (and the task
     * they created is one task, by its idempotency key). False if another got there first.
     */
    async advance(id: string, firedTick: Date, next: Date, taskId: string): Promise<boolean> {
      const result = await db
        .updateTable("schedules")
        .set({
          next_run_at: next,
          last_run_at: firedTick,
          last_task_id: taskId,
          updated_at: sql`now()`,
        })
        .where("id", "=", id)
        .where("next_run_at", "=", firedTick)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
  };
}

export type ScheduleRepository = ReturnType<typeof createScheduleRepository>;

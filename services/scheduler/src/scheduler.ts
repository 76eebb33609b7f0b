import type { ScheduleRow } from "@taskflow/db";
import {
  createSleeper,
  endSpan,
  type Logger,
  startSpan,
  type Tracer,
  traceparentOf,
} from "@taskflow/observability";
import { nextTick, type ScheduleRepository, type TaskRepository } from "@taskflow/tasks";

export interface SchedulerOptions {
  schedules: ScheduleRepository;
  tasks: TaskRepository;
  logger: Logger;
  /** Longest sleep between two looks at the schedules. */
  pollMs?: number;
  now?: () => Date;
  /** Tracing on: each fired tick is a span, the root of its task's trace. */
  tracer?: Tracer | undefined;
}

/** Schedules fired per pass at most; a longer backlog is taken on the next pass at once. */
const BATCH = 100;

/**
 * Turns each tick of every active schedule into one task. Any number of schedulers may run:
 * a tick's task is created with the idempotency key `schedule.<id>.<tick>` (so two schedulers
 * that fire the same tick create one task), and the schedule advances only from the tick it
 * is at (so one of them moves it on). The task is created before the schedule advances: a
 * crash in between fires the tick again, which the key turns into the same task.
 *
 * Ticks missed while no scheduler ran are not replayed: the schedule fires once for the
 * oldest and moves on to the next tick after now.
 */
export function createScheduler(options: SchedulerOptions) {
  const { schedules, tasks, logger } = options;
  const pollMs = options.pollMs ?? 1_000;
  const now = options.now ?? (() => new Date());
  let running = false;
  let loop: Promise<void> | undefined;
  /**
   * For the heartbeat: schedules firing now, ticks fired (this scheduler moved the schedule
   * on; another that fired the same tick made the same task, and does not count it), and
   * fires that failed (tried again on the next pass).
   */
  const stats = { inFlight: 0, processed: 0, failed: 0 };

  async function fire(schedule: ScheduleRow): Promise<void> {
    const span = options.tracer
      ? startSpan(options.tracer, "fire schedule", {
          attributes: { "taskflow.schedule.id": schedule.id },
        })
      : undefined;
    try {
      await fireTick(schedule, span ? traceparentOf(span) : undefined);
      span?.end();
    } catch (error) {
      if (span) endSpan(span, error);
      throw error;
    }
  }

  async function fireTick(schedule: ScheduleRow, traceparent: string | undefined): Promise<void> {
    const tick = new Date(schedule.next_run_at);
    const [outcome] = await tasks.createMany([
      {
        ownerId: schedule.owner_id,
        type: schedule.task_type,
        title: schedule.task_title ?? schedule.name,
        payload: schedule.task_payload,
        maxAttempts: schedule.task_max_attempts,
        priority: schedule.task_priority,
        idempotencyKey: `schedule.${schedule.id}.${tick.toISOString()}`,
        traceparent,
      },
    ]);
    if (!outcome) return;
    const current = now();
    const next = nextTick(schedule.cron, schedule.timezone, current > tick ? current : tick);
    const advanced = await schedules.advance(schedule.id, tick, next, outcome.task.id);
    if (advanced) {
      stats.processed++;
      logger.info(
        { schedule: schedule.id, tick: tick.toISOString(), task: outcome.task.id },
        "schedule fired",
      );
    }
  }

  /** Fires every due schedule once; returns how many were due. */
  async function pass(): Promise<number> {
    const due = await schedules.due(now(), BATCH);
    for (const schedule of due) {
      stats.inFlight++;
      try {
        await fire(schedule);
      } catch (error) {
        // One broken schedule (its task type removed, say) must not stop the others.
        stats.failed++;
        logger.error({ err: error, schedule: schedule.id }, "schedule could not fire");
      } finally {
        stats.inFlight--;
      }
    }
    return due.length;
  }

  const sleeper = createSleeper();
  const sleep = (ms: number) => sleeper.sleep(ms);

  async function run() {
    while (running) {
      try {
        if ((await pass()) === BATCH) continue;
        const next = await schedules.nextDue();
        const untilNext = next ? next.getTime() - now().getTime() : pollMs;
        await sleep(Math.max(0, Math.min(pollMs, untilNext)));
      } catch (error) {
        logger.error({ err: error }, "scheduler: cannot read the schedules, retrying");
        await sleep(pollMs);
      }
    }
  }

  return {
    pass,
    /** Schedules firing now, ticks fired, fires that failed. */
    get stats() {
      return { ...stats };
    },
    start() {
      running = true;
      loop = run();
    },
    async stop() {
      running = false;
      sleeper.wake();
      await loop;
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;

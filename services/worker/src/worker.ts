import { GroupCommitter } from "@taskflow/db";
import type { Delivery, Subscription, TaskQueue } from "@taskflow/messaging";
import {
  failpoint,
  type Logger,
  type Metrics,
  type Span,
  startMessagingSpan,
  type Tracer,
  traceparentFrom,
  traceparentOf,
} from "@taskflow/observability";
import type {
  ClaimedTask,
  ClaimRequest,
  RetryPolicy,
  TaskOutcome,
  TaskRepository,
  TaskStatus,
} from "@taskflow/tasks";
import type { TaskHandlerRegistry } from "./handlers/index.ts";

export interface WorkerOptions {
  tasks: TaskRepository;
  queue: TaskQueue;
  handlers: TaskHandlerRegistry;
  logger: Logger;
  metrics: Metrics;
  /** Handlers running at once. */
  concurrency: number;
  /** Deliveries held at once (running + waiting for a slot or a commit). */
  prefetch: number;
  retry: RetryPolicy;
  /** Tracing on: a CONSUMER span per delivery, child of the message's trace context. */
  tracer?: Tracer | undefined;
}

export interface WorkerStats {
  inFlight: number;
  processed: number;
  failed: number;
}

type ClaimAnswer = { claimed: ClaimedTask } | { status: TaskStatus | undefined };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Pause before handing back a delivery whose commit failed, so an outage is not a hot loop. */
const REQUEUE_AFTER_ERROR_MS = 1_000;

/**
 * A task worker. Per delivery: claim the task (PENDING/RETRYING → PROCESSING, attempts + 1),
 * run its handler, record the outcome, and only then acknowledge. Claims and outcomes of
 * concurrent deliveries are committed together (one transaction per batch), which is where
 * the throughput comes from; a delivery is never settled before its batch has committed.
 */
export function createWorker(options: WorkerOptions) {
  const { tasks, queue, handlers, logger, metrics } = options;
  const stats: WorkerStats = { inFlight: 0, processed: 0, failed: 0 };
  const abort = new AbortController();
  const running = new Set<Promise<void>>();
  const waitingForSlot: (() => void)[] = [];
  let activeHandlers = 0;
  let subscription: Subscription | undefined;

  const batchSize = (batch: string) => ({
    onFlush: (size: number) => metrics.batchSize.observe({ batch }, size),
  });
  const claims = new GroupCommitter<ClaimRequest, ClaimAnswer>(async (requests) => {
    const claimed = await tasks.claim(requests);
    const byId = new Map(claimed.map((task) => [task.id, task]));
    const missing = requests.filter((r) => !byId.has(r.taskId)).map((r) => r.taskId);
    const statuses = await tasks.statuses(missing);
    // A task delivered twice in one batch is run once: the first delivery gets it.
    const handedOut = new Set<string>();
    return requests.map((r): ClaimAnswer => {
      const task = byId.get(r.taskId);
      if (task && !handedOut.has(r.taskId)) {
        handedOut.add(r.taskId);
        return { claimed: task };
      }
      return { status: task ? task.status : statuses.get(r.taskId) };
    });
  }, batchSize("task_claims"));

  const outcomes = new GroupCommitter<TaskOutcome, TaskStatus | undefined>(async (batch) => {
    const ended = await tasks.finish(batch, options.retry);
    return batch.map((o) => ended.get(o.taskId));
  }, batchSize("task_outcomes"));

  const settle = (delivery: Delivery, outcome: "ack" | "dead" | "skip", type = "unknown") => {
    if (outcome === "dead") delivery.deadLetter("task failed");
    else delivery.ack();
    metrics.consumed.inc({ queue: queue.name, outcome });
    if (outcome !== "skip")
      metrics.tasksFinished.inc({ type, status: outcome === "dead" ? "FAILED" : "DONE" });
  };

  async function acquireSlot() {
    if (activeHandlers < options.concurrency) {
      activeHandlers++;
      return;
    }
    await new Promise<void>((resolve) => waitingForSlot.push(resolve));
  }

  function releaseSlot() {
    const next = waitingForSlot.shift();
    if (next) next();
    else activeHandlers--;
  }

  async function runTask(task: ClaimedTask): Promise<TaskOutcome> {
    const handler = handlers.get(task.type);
    const base = { taskId: task.id, attempt: task.attempts };
    if (!handler) return { ...base, ok: false, error: `no handler for task type "${task.type}"` };
    await acquireSlot();
    try {
      const result = await handler.run(task.payload as never, {
        taskId: task.id,
        attempt: task.attempts,
        signal: abort.signal,
      });
      return { ...base, ok: true, result: result ?? null };
    } catch (error) {
      return { ...base, ok: false, error: error instanceof Error ? error.message : String(error) };
    } finally {
      releaseSlot();
    }
  }

  /** Without a tracer, exactly `handle`: no span, no allocation. */
  function handleTraced(delivery: Delivery): Promise<void> {
    const { tracer } = options;
    if (!tracer) return handle(delivery);
    const span = startMessagingSpan(
      tracer,
      {
        system: queue.engine === "embedded" ? "taskflow.embedded" : queue.engine,
        destination: queue.name,
        operation: "process",
        messageId: delivery.message.id,
      },
      {
        parent: traceparentFrom(delivery.message.headers),
        attributes: { "messaging.rabbitmq.redelivered": delivery.redelivered },
      },
    );
    return handle(delivery, span).finally(() => span.end());
  }

  async function handle(delivery: Delivery, span?: Span): Promise<void> {
    const body = delivery.message.body as { task_id?: unknown } | undefined;
    const taskId = body?.task_id;
    if (typeof taskId !== "string" || !UUID.test(taskId)) {
      logger.warn({ messageId: delivery.message.id }, "unreadable task message: dead-lettered");
      delivery.deadLetter("unreadable task message");
      metrics.consumed.inc({ queue: queue.name, outcome: "dead" });
      return;
    }
    try {
      const answer = await claims.submit({ taskId, redelivered: delivery.redelivered });
      if (!("claimed" in answer)) {
        // Done, cancelled, unknown, or a duplicate of a message being run elsewhere. A FAILED
        // task's message belongs in the dead letters (a crash may have come before it got there).
        settle(delivery, answer.status === "FAILED" ? "dead" : "skip");
        return;
      }
      const task = answer.claimed;
      span?.setAttributes({
        "taskflow.task.id": task.id,
        "taskflow.task.type": task.type,
        "taskflow.task.attempt": task.attempts,
      });
      if (task.status === "FAILED") {
        stats.failed++;
        settle(delivery, "dead", task.type);
        return;
      }
      failpoint("worker.after-claim");
      const outcome = await runTask(task);
      if (span) outcome.traceparent = traceparentOf(span);
      failpoint("worker.after-effect");
      const ended = await outcomes.submit(outcome);
      span?.setAttribute("taskflow.task.status", ended ?? "unchanged");
      failpoint("worker.after-commit");
      if (ended === "FAILED") {
        stats.failed++;
        logger.warn(
          { taskId, type: task.type, attempts: task.attempts },
          "task failed: dead-lettered",
        );
        settle(delivery, "dead", task.type);
      } else if (ended === "RETRYING") {
        delivery.ack(); // its retry is in the outbox, due after the backoff
        metrics.consumed.inc({ queue: queue.name, outcome: "retry" });
      } else {
        stats.processed++;
        settle(delivery, ended === "DONE" ? "ack" : "skip", task.type);
      }
    } catch (error) {
      logger.error({ err: error, taskId }, "could not record the task: handing the message back");
      await new Promise((resolve) => setTimeout(resolve, REQUEUE_AFTER_ERROR_MS));
      delivery.requeue();
      metrics.consumed.inc({ queue: queue.name, outcome: "requeue" });
    }
  }

  return {
    stats,
    async start() {
      subscription = await queue.consume(
        (delivery) => {
          stats.inFlight++;
          const work = handleTraced(delivery).finally(() => {
            stats.inFlight--;
            running.delete(work);
          });
          running.add(work);
        },
        { prefetch: options.prefetch },
      );
      logger.info(
        {
          queue: queue.name,
          engine: queue.engine,
          concurrency: options.concurrency,
          prefetch: options.prefetch,
        },
        "worker consuming",
      );
    },

    /**
     * Stops taking work and waits for what is in flight to be committed and acknowledged,
     * at most `timeoutMs`; then aborts the handlers still running (their deliveries go back
     * to the queue when the connection closes, and will be taken over).
     */
    async stop(timeoutMs: number) {
      await subscription?.stop();
      const drained = Promise.all([...running]).then(() => true);
      const timedOut = new Promise<boolean>((resolve) =>
        setTimeout(() => resolve(false), timeoutMs).unref(),
      );
      if (!(await Promise.race([drained, timedOut]))) {
        logger.warn({ inFlight: stats.inFlight }, "drain timed out: aborting running handlers");
        abort.abort(new Error("worker shutting down"));
        await Promise.race([
          Promise.all([...running]),
          new Promise((r) => setTimeout(r, 2_000).unref()),
        ]);
      }
      await Promise.all([claims.settled(), outcomes.settled()]);
    },
  };
}

export type Worker = ReturnType<typeof createWorker>;

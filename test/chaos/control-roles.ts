/**
 * The chaos suite's control runs: roles that break one rule of the pipeline, built from the
 * library's own parts (no switch in production code), to prove the checker sees the damage.
 *
 *   ack-first-worker       the real worker, given deliveries that were acknowledged the
 *                          moment they arrived (before the claim and the outcome committed)
 *   unconfirmed-relay      the real relay, whose task-queue publisher resolves without
 *                          waiting for RabbitMQ's publisher confirms
 *
 * Run as `node --import tsx test/chaos/control-roles.ts <name>` with the roles' TASKFLOW_*
 * environment; prints "control ready" once it consumes or leads.
 */

import { openRuntime } from "@taskflow/cli";
import { loadConfig } from "@taskflow/config";
import type { Delivery, TaskQueue } from "@taskflow/messaging";
import { ORDERS_TOPIC } from "@taskflow/orders";
import { createRelay, outboxPublishers } from "@taskflow/relay";
import { createTaskRepository, TASK_QUEUE_DESTINATION, TASKS_TOPIC } from "@taskflow/tasks";
import { createWorker, taskHandlersFor } from "@taskflow/worker";

const which = process.argv[2];
const config = loadConfig();
const rt = await openRuntime(config, `control-${which}`);

/** The queue, but every delivery is acknowledged on arrival; the worker's own settling is void. */
function ackOnArrival(queue: TaskQueue): TaskQueue {
  return new Proxy(queue, {
    get(target, property, receiver) {
      if (property !== "consume") return Reflect.get(target, property, receiver);
      const consume: TaskQueue["consume"] = (onDelivery, options) =>
        target.consume((delivery: Delivery) => {
          delivery.ack();
          onDelivery({
            message: delivery.message,
            redelivered: delivery.redelivered,
            ack() {},
            requeue() {},
            deadLetter() {},
          });
        }, options);
      return consume;
    },
  });
}

if (which === "ack-first-worker") {
  const worker = createWorker({
    tasks: createTaskRepository(rt.database.db),
    queue: ackOnArrival(rt.taskQueue),
    handlers: taskHandlersFor(config.chaos.effectUrl),
    logger: rt.logger,
    metrics: rt.metrics,
    concurrency: config.worker.concurrency,
    prefetch: config.worker.prefetch,
    retry: { baseMs: config.worker.retryBaseMs, maxMs: config.worker.retryMaxMs },
  });
  await worker.start();
} else if (which === "unconfirmed-relay") {
  const publishers = outboxPublishers({
    taskQueue: rt.taskQueue,
    eventStream: { stream: rt.eventStream(), topics: [ORDERS_TOPIC, TASKS_TOPIC] },
  });
  const confirmed = publishers[TASK_QUEUE_DESTINATION];
  if (!confirmed) throw new Error("no task-queue publisher");
  const relay = createRelay({
    database: rt.database,
    publishers: {
      ...publishers,
      // Fire and forget: the rows are deleted as soon as the bytes are handed over.
      [TASK_QUEUE_DESTINATION]: async (rows) => {
        confirmed(rows).catch(() => {});
      },
    },
    logger: rt.logger,
    metrics: rt.metrics,
  });
  await relay.start();
} else {
  throw new Error(`unknown control role "${which}"`);
}
console.log("control ready");

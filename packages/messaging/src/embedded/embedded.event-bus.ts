import type { DatabaseHandle } from "@taskflow/db";
import { type BusMessage, type EventBus, routingKeyMatches } from "../event-bus.ts";
import type { TaskQueue } from "../task-queue.ts";
import { createEmbeddedTaskQueue } from "./embedded.task-queue.ts";

export interface EmbeddedEventBusOptions {
  database: DatabaseHandle;
  exchange: string;
  /** Handed to each subscriber queue (tests shorten its poll). */
  pollMs?: number;
  /** A subscriber queue's maintenance (its VACUUM of queue_messages) failed. */
  onError?: (error: Error) => void;
}

/**
 * The embedded event bus: bindings in `bus_bindings`, and each subscriber queue an embedded
 * task queue (rows in `queue_messages`). A publish copies each message into the queues whose
 * patterns match its routing key, as a topic exchange does.
 */
export function createEmbeddedEventBus(options: EmbeddedEventBusOptions): EventBus {
  const { database, exchange } = options;
  const queues = new Map<string, TaskQueue>();
  const queueNamed = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = createEmbeddedTaskQueue({
        database,
        queue: name,
        ...(options.pollMs ? { pollMs: options.pollMs } : {}),
        ...(options.onError ? { onError: options.onError } : {}),
      });
      queues.set(name, queue);
    }
    return queue;
  };

  return {
    engine: "embedded",
    name: exchange,

    async publish(messages: readonly BusMessage[]) {
      if (messages.length === 0) return;
      // Read at each publish: a subscriber bound since (in another process) gets what follows.
      const bindings = await database.db
        .selectFrom("bus_bindings")
        .select(["queue", "pattern"])
        .where("exchange", "=", exchange)
        .execute();
      const byQueue = new Map<string, BusMessage[]>();
      for (const message of messages) {
        const targets = new Set(
          bindings
            .filter((b) => routingKeyMatches(b.pattern, message.routingKey))
            .map((b) => b.queue),
        );
        for (const queue of targets) {
          const list = byQueue.get(queue) ?? [];
          list.push(message);
          byQueue.set(queue, list);
        }
      }
      for (const [queue, list] of byQueue) {
        await queueNamed(queue).publish(
          list.map((m) => ({
            id: m.id,
            body: m.body,
            ...(m.headers ? { headers: m.headers } : {}),
          })),
        );
      }
    },

    async subscribe(queue: string, patterns: readonly string[]) {
      if (patterns.length > 0) {
        await database.db
          .insertInto("bus_bindings")
          .values(patterns.map((pattern) => ({ exchange, queue, pattern })))
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      return queueNamed(queue);
    },

    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}

import type { TaskQueue } from "./task-queue.ts";

/**
 * The event bus port: publish/subscribe by routing key — a RabbitMQ topic exchange, or its
 * embedded stand-in. A publisher names what happened (`order.created`); each subscriber has
 * its own durable queue, bound to the routing-key patterns it wants (AMQP topic syntax: `*`
 * one word, `#` zero or more), and consumes it like any work queue: acknowledged after its
 * effect is committed, redelivered otherwise, dead-lettered when given up on.
 *
 * Unlike the event stream there is no log to replay: a message is copied into the queues
 * bound when it is published, and gone from each once that subscriber acknowledged it.
 */
export interface EventBus {
  readonly engine: "rabbitmq" | "embedded";
  /** The exchange's name. */
  readonly name: string;
  /**
   * Publishes persistent messages; resolves once the engine has durably accepted every one
   * (publisher confirms). A message no queue is bound for is dropped, as a topic exchange
   * drops it.
   */
  publish(messages: readonly BusMessage[]): Promise<void>;
  /**
   * The subscriber queue `queue`, bound to `patterns` (declared when first used; bindings
   * are only ever added). Consume it through the TaskQueue it returns.
   */
  subscribe(queue: string, patterns: readonly string[]): Promise<TaskQueue>;
  close(): Promise<void>;
}

export interface BusMessage {
  /** Stable across re-publishes: subscribers dedupe by it. */
  id: string;
  routingKey: string;
  body: unknown;
  headers?: Record<string, string>;
}

/** AMQP topic matching: words split on ".", `*` is exactly one word, `#` zero or more. */
export function routingKeyMatches(pattern: string, routingKey: string): boolean {
  const want = pattern.split(".");
  const have = routingKey.split(".");
  const match = (i: number, j: number): boolean => {
    if (i === want.length) return j === have.length;
    const word = want[i];
    if (word === "#") {
      for (let k = j; k <= have.length; k++) if (match(i + 1, k)) return true;
      return false;
    }
    if (j === have.length) return false;
    return (word === "*" || word === have[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

import amqp, { type AmqpConnectionManager, type ChannelWrapper } from "amqp-connection-manager";
import type { Channel, ConfirmChannel } from "amqplib";
import type { BusMessage, EventBus } from "../event-bus.ts";
import type { TaskQueue } from "../task-queue.ts";
import { coalesceFrameWrites } from "./coalesce-writes.ts";
import { createRabbitMqTaskQueue } from "./rabbitmq.task-queue.ts";

export interface RabbitMqEventBusOptions {
  url: string;
  /** The topic exchange (durable). */
  exchange: string;
  heartbeatSeconds?: number;
  onError?: (error: Error) => void;
}

/**
 * RabbitMQ adapter: a durable topic exchange; persistent messages, publisher confirms. Each
 * subscriber queue is a RabbitMQ task queue (its own dead letters) bound to the exchange.
 */
export function createRabbitMqEventBus(options: RabbitMqEventBusOptions): EventBus {
  const { exchange } = options;
  const connection: AmqpConnectionManager = amqp.connect([options.url], {
    heartbeatIntervalInSeconds: options.heartbeatSeconds ?? 10,
    reconnectTimeInSeconds: 1,
  });
  // One writev per turn instead of one per frame (see coalesce-writes.ts).
  connection.on("connect", ({ connection: model }) => coalesceFrameWrites(model));
  connection.on("connectFailed", ({ err }) => options.onError?.(err));
  connection.on("disconnect", ({ err }) => options.onError?.(err));
  const publisher: ChannelWrapper = connection.createChannel({
    name: `${exchange}:publish`,
    confirm: true,
    setup: async (channel: Channel | ConfirmChannel) => {
      await channel.assertExchange(exchange, "topic", { durable: true });
    },
  });
  publisher.on("error", (error) => options.onError?.(error));
  const subscribers: TaskQueue[] = [];

  return {
    engine: "rabbitmq",
    name: exchange,

    async publish(messages: readonly BusMessage[]) {
      // All in flight at once: each promise settles on its own confirm.
      await Promise.all(
        messages.map((m) =>
          publisher.publish(exchange, m.routingKey, Buffer.from(JSON.stringify(m.body)), {
            persistent: true,
            messageId: m.id,
            contentType: "application/json",
            headers: m.headers ?? {},
          }),
        ),
      );
    },

    async subscribe(queue: string, patterns: readonly string[]) {
      const subscriber = createRabbitMqTaskQueue({
        url: options.url,
        queue,
        bind: { exchange, patterns },
        ...(options.heartbeatSeconds ? { heartbeatSeconds: options.heartbeatSeconds } : {}),
        ...(options.onError ? { onError: options.onError } : {}),
      });
      // The binding exists once the queue's channel has run its setup: publishes from now
      // on reach it.
      await subscriber.ready();
      subscribers.push(subscriber);
      return subscriber;
    },

    async close() {
      await Promise.all(subscribers.map((s) => s.close().catch(() => {})));
      await publisher.close().catch(() => {});
      await connection.close();
    },
  };
}

import type { DatabaseHandle } from "@taskflow/db";
import { createEmbeddedEventBus } from "./embedded/embedded.event-bus.ts";
import type { EventBus } from "./event-bus.ts";
import { createRabbitMqEventBus } from "./rabbitmq/rabbitmq.event-bus.ts";

/** The topic exchange TaskFlow's domain events go through (`order.created`, …). */
export const EVENTS_EXCHANGE = "taskflow.events";

/** RabbitMQ when a URL is configured, else the embedded bus in the application database. */
export function createEventBus(options: {
  amqpUrl: string | undefined;
  database: DatabaseHandle;
  exchange?: string;
  onError?: (error: Error) => void;
}): EventBus {
  const exchange = options.exchange ?? EVENTS_EXCHANGE;
  if (options.amqpUrl) {
    return createRabbitMqEventBus({
      url: options.amqpUrl,
      exchange,
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  return createEmbeddedEventBus({
    database: options.database,
    exchange,
    ...(options.onError ? { onError: options.onError } : {}),
  });
}

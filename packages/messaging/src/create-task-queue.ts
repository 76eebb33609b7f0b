import type { DatabaseHandle } from "@taskflow/db";
import { createEmbeddedTaskQueue } from "./embedded/embedded.task-queue.ts";
import { createRabbitMqTaskQueue } from "./rabbitmq/rabbitmq.task-queue.ts";
import type { TaskQueue } from "./task-queue.ts";

/** RabbitMQ when a URL is configured, else the embedded queue in the application database. */
export function createTaskQueue(options: {
  amqpUrl: string | undefined;
  queue: string;
  database: DatabaseHandle;
  onError?: (error: Error) => void;
}): TaskQueue {
  if (options.amqpUrl) {
    return createRabbitMqTaskQueue({
      url: options.amqpUrl,
      queue: options.queue,
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  return createEmbeddedTaskQueue({
    database: options.database,
    queue: options.queue,
    ...(options.onError ? { onError: options.onError } : {}),
  });
}

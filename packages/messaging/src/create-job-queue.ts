import type { DatabaseHandle } from "@taskflow/db";
import { createEmbeddedJobQueue } from "./embedded/embedded.job-queue.ts";
import type { JobQueue } from "./job-queue.ts";
import { createBullMqJobQueue } from "./redis/bullmq.job-queue.ts";

/** BullMQ when a Redis URL is configured, else the embedded job queue in the application database. */
export function createJobQueue(options: {
  redisUrl: string | undefined;
  queue: string;
  database: DatabaseHandle;
  onError?: (error: Error) => void;
}): JobQueue {
  if (options.redisUrl) {
    return createBullMqJobQueue({
      url: options.redisUrl,
      queue: options.queue,
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  return createEmbeddedJobQueue({ database: options.database, queue: options.queue });
}

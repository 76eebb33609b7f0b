import type { DatabaseHandle } from "@taskflow/db";
import { createEmbeddedJobQueue } from "./embedded/embedded.job-queue.ts";
import type { JobQueue } from "./job-queue.ts";
import { createBullMqJobQueue } from "./redis/bullmq.job-queue.ts";

/** BullMQ when a Redis URL is configured, else the embedded job queue in the application database. */
export function createJobQueue(options: {
  redisUrl: string | undefined;
  queue: string;
  database: DatabaseHandle;
  /**
   * How long a running job belongs to its processor (renewed while it runs); a processor
   * that died has its jobs run again after about this long (BullMQ: up to twice).
   */
  leaseMs?: number;
  onError?: (error: Error) => void;
}): JobQueue {
  const { leaseMs } = options;
  if (options.redisUrl) {
    return createBullMqJobQueue({
      url: options.redisUrl,
      queue: options.queue,
      ...(leaseMs ? { lockMs: leaseMs } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  return createEmbeddedJobQueue({
    database: options.database,
    queue: options.queue,
    ...(leaseMs ? { leaseMs } : {}),
  });
}

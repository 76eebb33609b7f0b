import type { DatabaseHandle } from "@taskflow/db";
import { createEmbeddedJobQueue } from "./embedded/embedded.job-queue.ts";
import type { JobQueue } from "./job-queue.ts";
import { lazyAdapter } from "./lazy-adapter.ts";

/**
 * BullMQ when a Redis URL is configured (loaded on first use), else the embedded job queue in
 * the application database.
 */
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
  const { redisUrl } = options;
  if (redisUrl) {
    return lazyAdapter<JobQueue>({ engine: "redis", name: options.queue }, async () => {
      const { createBullMqJobQueue } = await import("./redis/bullmq.job-queue.ts");
      return createBullMqJobQueue({
        url: redisUrl,
        queue: options.queue,
        ...(leaseMs ? { lockMs: leaseMs } : {}),
        ...(options.onError ? { onError: options.onError } : {}),
      });
    });
  }
  return createEmbeddedJobQueue({
    database: options.database,
    queue: options.queue,
    ...(leaseMs ? { leaseMs } : {}),
  });
}

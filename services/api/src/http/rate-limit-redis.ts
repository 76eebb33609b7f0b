import { Redis } from "ioredis";

/** Where the connection reports an outage and its end. */
export interface RateLimitRedisLog {
  warn(details: object, message: string): void;
  info(message: string): void;
}

/**
 * A Redis connection for @fastify/rate-limit's counters, so that every API process counts
 * against one budget (a counter per process gives a client one budget per replica).
 *
 * Counting must never hold up or refuse a request: while Redis is unreachable a command fails
 * at once (no offline queue), one that gets no answer fails after `commandTimeout`, and the
 * limiter then lets the request through (its `skipOnError`). Requests are not limited until
 * Redis answers again; the outage is logged when it starts and when it ends, not per request.
 *
 * Resolves once the connection is ready or its first attempt failed (at most `connectTimeout`),
 * so that a starting API counts its first requests too instead of letting them through while
 * it still connects.
 */
export async function createRateLimitRedis(url: string, log: RateLimitRedisLog): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: "taskflow-rate-limit",
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    // The counters of requests read in one turn of the event loop leave in one write.
    enableAutoPipelining: true,
  });
  let down = false;
  redis.on("error", (error: Error) => {
    if (down) return;
    down = true;
    log.warn(
      { err: error },
      "rate-limit Redis unreachable: requests are not rate limited until it answers",
    );
  });
  redis.on("ready", () => {
    if (!down) return;
    down = false;
    log.info("rate-limit Redis answers again: rate limits apply");
  });
  await new Promise<void>((resolve) => {
    const settled = () => {
      redis.off("ready", settled).off("error", settled);
      resolve();
    };
    redis.once("ready", settled).once("error", settled);
  });
  return redis;
}

import { engineAvailable, testEngines, uniqueName } from "@taskflow/testing";
import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { createRedisEventStream } from "../src/index.ts";
import { describeEventStreamContract } from "./event-stream.contract.ts";

// Every key of this run lives under one prefix, removed afterwards.
const prefix = uniqueName("taskflow-test-stream");

afterAll(async () => {
  const redis = new Redis(testEngines.redisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } catch {
    // Redis was not there: nothing was written.
  } finally {
    redis.disconnect();
  }
});

describeEventStreamContract("Redis Streams", async () => {
  if (!(await engineAvailable("redis"))) return undefined;
  return {
    newTopic: () => uniqueName("events"),
    // A short lease stands in for "the consumer's process died": a standby takes over quickly.
    open: async () =>
      createRedisEventStream({ url: testEngines.redisUrl, prefix, leaseMs: 1_500, pollMs: 200 }),
  };
});

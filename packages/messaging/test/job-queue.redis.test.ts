import { engineAvailable, testEngines, uniqueName } from "@taskflow/testing";
import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { createBullMqJobQueue } from "../src/index.ts";
import { describeJobQueueContract } from "./job-queue.contract.ts";

// Every key of this run lives under one prefix, removed afterwards.
const prefix = uniqueName("taskflow-test-bull");

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

describeJobQueueContract("Redis (BullMQ)", async () => {
  if (!(await engineAvailable("redis"))) return undefined;
  return {
    newQueueName: () => uniqueName("jobs"),
    // A short lock stands in for "the processor's process died": its jobs come back quickly.
    open: async (queue) =>
      createBullMqJobQueue({ url: testEngines.redisUrl, queue, prefix, lockMs: 1_500 }),
  };
});

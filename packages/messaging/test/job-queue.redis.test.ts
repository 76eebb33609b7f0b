import { engineAvailable, testEngines, uniqueName, waitFor } from "@taskflow/testing";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createBullMqJobQueue } from "../src/redis/index.ts";
import { redisTestPrefix } from "./fixtures.ts";
import { describeJobQueueContract } from "./job-queue.contract.ts";

// Every key of this run lives under one prefix, removed afterwards.
const prefix = redisTestPrefix("taskflow-test-bull");

describeJobQueueContract("Redis (BullMQ)", async () => {
  if (!(await engineAvailable("redis"))) return undefined;
  return {
    newQueueName: () => uniqueName("jobs"),
    // A short lock stands in for "the processor's process died": its jobs come back quickly.
    open: async (queue) =>
      createBullMqJobQueue({ url: testEngines.redisUrl, queue, prefix, lockMs: 1_500 }),
  };
});

describe("BullMQ job watchers", () => {
  it("reads the queue's events on one connection while anyone watches, none once the last one left or the queue closed", async (context) => {
    if (!(await engineAvailable("redis"))) return context.skip();
    const name = uniqueName("jobs");
    const queue = createBullMqJobQueue({ url: testEngines.redisUrl, queue: name, prefix });
    const redis = new Redis(testEngines.redisUrl);
    // BullMQ names its QueueEvents connection "<prefix>:<base64 queue name>:qe".
    const eventReaders = async () =>
      String(await redis.client("LIST"))
        .split("\n")
        .filter((line) =>
          line.includes(`name=${prefix}:${Buffer.from(name).toString("base64")}:qe`),
        ).length;
    try {
      expect(await eventReaders()).toBe(0);
      const stopOne = await queue.watch(() => {});
      const stopTwo = await queue.watch(() => {});
      expect(await eventReaders()).toBe(1);
      await stopOne();
      expect(await eventReaders()).toBe(1);
      await stopTwo();
      await waitFor(async () => (await eventReaders()) === 0, { what: "the reader to close" });
      await stopTwo(); // twice is harmless

      await queue.watch(() => {});
      expect(await eventReaders()).toBe(1);
      await queue.close();
      await waitFor(async () => (await eventReaders()) === 0, { what: "close() to end it" });
    } finally {
      await queue.close().catch(() => {});
      redis.disconnect();
    }
  });
});

import { engineAvailable, testEngines, uniqueName } from "@taskflow/testing";
import { createRedisEventStream } from "../src/redis/index.ts";
import { describeEventStreamContract } from "./event-stream.contract.ts";
import { redisTestPrefix } from "./fixtures.ts";

// Every key of this run lives under one prefix, removed afterwards.
const prefix = redisTestPrefix("taskflow-test-stream");

describeEventStreamContract("Redis Streams", async () => {
  if (!(await engineAvailable("redis"))) return undefined;
  return {
    newTopic: () => uniqueName("events"),
    // A short lease stands in for "the consumer's process died": a standby takes over quickly.
    open: async () =>
      createRedisEventStream({ url: testEngines.redisUrl, prefix, leaseMs: 1_500, pollMs: 200 }),
  };
});

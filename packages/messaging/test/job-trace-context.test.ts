import { engineAvailable, testEngines, uniqueName, waitFor } from "@taskflow/testing";
import { describe, expect, it } from "vitest";
import type { JobQueue, JobRun } from "../src/index.ts";
import { createEmbeddedJobQueue } from "../src/index.ts";
import { createBullMqJobQueue } from "../src/redis/index.ts";
import { embeddedDatabases, redisTestPrefix } from "./fixtures.ts";

/**
 * The trace context of a background job travels as its headers, not in its data: BullMQ
 * keeps them in the job's telemetry metadata, the embedded queue in `queue_jobs.headers`.
 */
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const prefix = redisTestPrefix("taskflow-test-trace");
const databases = embeddedDatabases();

async function carries(queue: JobQueue): Promise<JobRun[]> {
  const runs: JobRun[] = [];
  const processor = await queue.process(
    async (job) => {
      runs.push(job);
    },
    { concurrency: 2 },
  );
  try {
    await queue.add([
      { name: "traced", jobId: "with", data: { n: 1 }, headers: { traceparent: TRACEPARENT } },
      { name: "plain", jobId: "without", data: { n: 2 } },
    ]);
    await waitFor(() => runs.length === 2);
  } finally {
    await processor.close();
    await queue.close();
  }
  return runs;
}

function expectCarried(runs: JobRun[]) {
  const traced = runs.find((r) => r.id === "with");
  const plain = runs.find((r) => r.id === "without");
  expect(traced?.headers).toEqual({ traceparent: TRACEPARENT });
  expect(traced?.data).toEqual({ n: 1 });
  expect(plain?.headers).toEqual({});
}

describe("a job's trace context (its headers)", () => {
  it("reaches the processor on BullMQ (Redis)", async (context) => {
    if (!(await engineAvailable("redis"))) return context.skip();
    const queue = createBullMqJobQueue({
      url: testEngines.redisUrl,
      queue: uniqueName("trace-jobs"),
      prefix,
    });
    expectCarried(await carries(queue));
  });

  it("reaches the processor on the embedded queue (PGlite)", async () => {
    const database = await databases.pglite();
    expectCarried(
      await carries(
        createEmbeddedJobQueue({ database, queue: uniqueName("trace-jobs"), pollMs: 50 }),
      ),
    );
  });
});

/**
 * `npm run bench:jobs`: background jobs through TaskFlow's Redis adapter (the JobQueue port on
 * BullMQ) beside raw BullMQ in the same run — N no-op jobs added in bulk while one processor
 * at concurrency C runs them, timed from the first add to the last completion.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import { createBullMqJobQueue } from "@taskflow/messaging/redis";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "50" },
    batch: { type: "string", default: "1000" },
    repeat: { type: "string", default: "3" },
    "redis-url": { type: "string", default: "redis://127.0.0.1:6379" },
  },
});
const N = Number(values.n);
const C = Number(values.concurrency);
const BATCH = Number(values.batch);
const REPEAT = Number(values.repeat);
const URL = values["redis-url"];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const queueName = (what: string) => `bench.jobs.${what}.${randomBytes(4).toString("hex")}`;

async function waitForCompleted(count: () => Promise<number>): Promise<number> {
  for (;;) {
    if ((await count()) >= N) return performance.now();
    await sleep(20);
  }
}

async function deleteKeys(name: string) {
  const redis = new Redis(URL);
  const keys = await redis.keys(`bull:${name}:*`);
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  await redis.quit();
}

/** Raw BullMQ: Queue.addBulk in batches, one Worker with a no-op processor. */
async function rawBullMq(): Promise<number> {
  const name = queueName("raw");
  const client = new Redis(URL, { maxRetriesPerRequest: 3 });
  const queue = new Queue(name, { connection: client });
  const workerConnection = new Redis(URL, { maxRetriesPerRequest: null });
  const worker = new Worker(name, async () => null, {
    connection: workerConnection,
    concurrency: C,
  });
  await worker.waitUntilReady();
  const start = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    await queue.addBulk(
      Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => ({
        name: "noop",
        data: { i: i + k },
        opts: { jobId: `raw-${i + k}` },
      })),
    );
  }
  const end = await waitForCompleted(
    async () => (await queue.getJobCounts("completed")).completed ?? 0,
  );
  await worker.close();
  await queue.close();
  await Promise.all([client.quit(), workerConnection.quit()]);
  await deleteKeys(name);
  return (N / (end - start)) * 1000;
}

/** The same through the JobQueue port's BullMQ adapter (stable ids, attempts, priority). */
async function adapter(): Promise<number> {
  const name = queueName("adapter");
  const jobs = createBullMqJobQueue({ url: URL, queue: name });
  const processor = await jobs.process(async () => null, { concurrency: C });
  const start = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    await jobs.add(
      Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => ({
        name: "noop",
        jobId: `adapter-${i + k}`,
        data: { i: i + k },
      })),
    );
  }
  const end = await waitForCompleted(async () => (await jobs.counts()).completed);
  await processor.close();
  await jobs.close();
  await deleteKeys(name);
  return (N / (end - start)) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");

console.log(
  `TaskFlow jobs bench: node ${process.version}, ${os.cpus().length} CPUs; N=${N}, concurrency ${C}, adds in batches of ${BATCH}, ${REPEAT} repetitions`,
);
const raw: number[] = [];
const ours: number[] = [];
for (let r = 1; r <= REPEAT; r++) {
  raw.push(await rawBullMq());
  ours.push(await adapter());
  console.log(
    `  repetition ${r}: R_bull ${fmt(raw.at(-1) ?? 0)} jobs/s   adapter ${fmt(ours.at(-1) ?? 0)} jobs/s`,
  );
}
const ratio = median(ours) / median(raw);
console.log(
  `median: R_bull ${fmt(median(raw))} jobs/s [${fmt(Math.min(...raw))}–${fmt(Math.max(...raw))}]   adapter ${fmt(median(ours))} jobs/s [${fmt(Math.min(...ours))}–${fmt(Math.max(...ours))}]   adapter/R_bull ${ratio.toFixed(2)}`,
);
console.log(`target (issue 3): adapter ≥ 0.5 × R_bull: ${ratio >= 0.5 ? "MET" : "NOT MET"}`);
process.exit(0);

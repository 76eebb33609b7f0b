import { type ApiClient, signUp } from "@taskflow/testing";
import { Ledger, settle } from "@taskflow/testing/chaos";
import amqplib from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Cluster,
  expectClean,
  settleAndReport,
  sleep,
  startCluster,
  TASK_QUEUE,
} from "./cluster.ts";

/**
 * Poison messages mixed into healthy load: tasks whose handler always fails, and messages
 * no worker can read. Each poison task is dead-lettered after exactly `max_attempts`
 * attempts, an unreadable message at once, and healthy work goes on at (nearly) the pace of
 * a run without poison — both runs measured here, on the same cluster, the same way.
 */
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.close();
});

const HEALTHY = 600;
const POISON = 60;
const UNREADABLE = 20;
const MAX_ATTEMPTS = 3;
const TASK_MS = 500;
const CHUNKS = 10;

/** Submits `count` tasks (titles `<prefix>-<n>`), 16 at a time, recording every answer. */
async function submit(
  client: ApiClient,
  ledger: Ledger | undefined,
  prefix: string,
  count: number,
  task: { type: string; payload: unknown; max_attempts: number },
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const key = `${prefix}-${next++}`;
      const started = Date.now();
      const answer = await client.request<{ id: string }>("POST", "/api/tasks", {
        ...task,
        title: key,
      });
      if (answer.status !== 202) throw new Error(`POST /api/tasks answered ${answer.status}`);
      ledger?.record({
        key,
        outcome: "ok",
        status: 202,
        taskId: answer.body.id,
        ms: 0,
        at: started,
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
}

async function outboxEmpty(): Promise<void> {
  for (;;) {
    const { rows } = await cluster.sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox",
    );
    if (rows[0]?.n === 0) return;
    await sleep(200);
  }
}

/** Healthy work done per second: effects of `ownerId`'s tasks, first to last. */
async function effectsPerSecond(ownerId: string): Promise<number> {
  const { rows } = await cluster.sql.query<{ id: string }>(
    "SELECT id FROM tasks WHERE owner_id = $1",
    [ownerId],
  );
  const ids = new Set(rows.map((r) => r.id));
  const times = cluster.effects.effects.filter((e) => ids.has(e.task_id)).map((e) => e.at);
  const span = (Math.max(...times) - Math.min(...times)) / 1000;
  return Math.round(((times.length - 1) / span) * 10) / 10;
}

/**
 * One run: workers stopped, a backlog of healthy tasks (and poison) queued, then two
 * workers started; the healthy rate is what they achieve on that backlog.
 */
async function run(scenario: string, poison: ((chunk: number) => Promise<void>) | undefined) {
  await cluster.killWorkers();
  const { client, userId } = await signUp(cluster.api.url);
  const ledger = new Ledger();
  // In CHUNKS, the poison (if any) queued after each chunk: mixed all through the backlog.
  for (let chunk = 0; chunk < CHUNKS; chunk++) {
    await submit(client, ledger, `${scenario.replace(/\W+/g, "-")}-${chunk}`, HEALTHY / CHUNKS, {
      type: "chaos.effect",
      payload: { ms: TASK_MS },
      max_attempts: 10,
    });
    await poison?.(chunk);
  }
  await outboxEmpty();
  await Promise.all([cluster.startWorker(), cluster.startWorker()]);
  const report = await settleAndReport(cluster, { scenario, userId, ledger, since: Date.now() });
  return { report, rate: await effectsPerSecond(userId) };
}

describe("poison messages", () => {
  it("always-failing tasks and unreadable messages: dead-lettered after exactly max_attempts, healthy throughput ≥ 90 %", async () => {
    const began = Date.now();
    const baseline = await run("healthy load, no poison", undefined);

    const { client: poisoner, userId: poisonOwner } = await signUp(cluster.api.url);
    const deadBefore = await cluster.rabbit.messageCount(`${TASK_QUEUE}.dead`);
    const connection = await amqplib.connect(cluster.rabbit.url);
    const channel = await connection.createConfirmChannel();
    const mixed = await run("healthy load + poison", async (chunk) => {
      await submit(poisoner, undefined, `poison-${chunk}`, POISON / CHUNKS, {
        type: "fail",
        payload: { times: 100 },
        max_attempts: MAX_ATTEMPTS,
      });
      // Messages no worker can read, straight into the task queue (not through TaskFlow).
      for (let i = 0; i < UNREADABLE / CHUNKS; i++) {
        channel.sendToQueue(TASK_QUEUE, Buffer.from(i % 2 ? "not json {" : '{"task_id":42}'), {
          persistent: true,
        });
      }
      await channel.waitForConfirms();
    });
    await connection.close();
    // The poison tasks finish (FAILED) on their own backoff; wait for them too.
    const poisonSettled = await settle(cluster.sql, poisonOwner, Date.now(), 120_000);
    await outboxEmpty();
    await sleep(1_000);
    const { rows: poisoned } = await cluster.sql.query<{
      status: string;
      attempts: number;
      n: number;
    }>(`SELECT status, attempts, count(*)::int AS n FROM tasks WHERE owner_id = $1 GROUP BY 1, 2`, [
      poisonOwner,
    ]);
    const dead = (await cluster.rabbit.messageCount(`${TASK_QUEUE}.dead`)) - deadBefore;
    const ratio = Math.round((mixed.rate / baseline.rate) * 1000) / 1000;
    console.info(
      `poison: tasks ${JSON.stringify(poisoned)}, settled ${poisonSettled} s; dead letters ${dead} (expected ${POISON + UNREADABLE}); healthy effects/s ${baseline.rate} without poison, ${mixed.rate} with (${ratio}); took ${Math.round((Date.now() - began) / 1000)} s`,
    );
    for (const report of [baseline.report, mixed.report]) expectClean(report);
    expect(poisoned).toEqual([{ status: "FAILED", attempts: MAX_ATTEMPTS, n: POISON }]);
    expect(dead).toBe(POISON + UNREADABLE);
    expect(ratio).toBeGreaterThanOrEqual(0.9);
  });
});

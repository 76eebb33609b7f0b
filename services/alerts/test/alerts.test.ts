import { randomUUID } from "node:crypto";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { Config } from "@taskflow/config";
import { createDatabase, createHeartbeat, type DatabaseHandle, migrateUp, sql } from "@taskflow/db";
import { ALERT_EMAIL_JOB, type AlertEmailData } from "@taskflow/mail";
import {
  createEmbeddedJobQueue,
  createEmbeddedTaskQueue,
  isNewJob,
  JOB_QUEUE_DESTINATION,
  PermanentJobError,
} from "@taskflow/messaging";
import { createLogger, createMetrics } from "@taskflow/observability";
import { createTestDatabase, engineAvailable, uniqueName, waitFor } from "@taskflow/testing";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  ALERT_WEBHOOK_DESTINATION,
  type AlertNotification,
  createAlertEvaluator,
  registerAlertGauges,
} from "../src/index.ts";

interface Engine {
  database: DatabaseHandle;
  /** Another session on the same database (PGlite: the same handle, it is one process). */
  openAnother(): Promise<DatabaseHandle>;
  drop(): Promise<void>;
}

const engines: Record<string, () => Promise<Engine>> = {
  PGlite: async () => {
    const database = await createDatabase({ dataDir: "memory://" });
    return { database, openAnother: async () => database, drop: async () => {} };
  },
  PostgreSQL: async () => {
    const testDb = await createTestDatabase("taskflow_alerts");
    const open = () => createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 3 });
    return { database: await open(), openAnother: open, drop: () => testDb.drop() };
  },
};
const postgres = await engineAvailable("postgres");
const silent = createLogger({ level: "silent", service: "alerts-test" });

const config: Config["alerts"] = {
  webhookUrl: "http://127.0.0.1:9/alerts",
  emails: ["ops@example.com", "oncall@example.com"],
  deadLetters: 0,
  failureRate: 0.2,
  lagSeconds: 60,
};

for (const [name, open] of Object.entries(engines)) {
  describe.skipIf(name === "PostgreSQL" && !postgres)(`alerts on ${name}`, async () => {
    const { database, openAnother, drop } = await open();
    await migrateUp(database.db);
    const taskQueue = createEmbeddedTaskQueue({ database, queue: uniqueName("alerts_tasks") });
    const jobQueue = createEmbeddedJobQueue({ database, queue: uniqueName("alerts_jobs") });
    const others: DatabaseHandle[] = [];
    afterAll(async () => {
      for (const other of others) if (other !== database) await other.close();
      await taskQueue.close();
      await jobQueue.close();
      await database.close();
      await drop();
    });

    /** Each pass happens 15 s after the previous one, by the evaluators' clock. */
    const clock = { at: Date.parse("2026-11-23T12:00:00Z") };
    const evaluator = (handle: DatabaseHandle = database, alerts = config) =>
      createAlertEvaluator({
        database: handle,
        taskQueue,
        jobQueue,
        config: alerts,
        logger: silent,
        now: () => {
          clock.at += 15_000;
          return new Date(clock.at);
        },
      });
    const another = async () => {
      const handle = await openAnother();
      others.push(handle);
      return handle;
    };

    /** The notifications in the outbox for `rule`: webhook payloads and alert email jobs. */
    async function sent(rule: string) {
      const rows = await database.db.selectFrom("outbox").selectAll().orderBy("id").execute();
      const webhooks = rows
        .filter((r) => r.destination === ALERT_WEBHOOK_DESTINATION)
        .map((r) => ({ payload: r.payload as AlertNotification, headers: r.headers }))
        .filter((w) => w.payload.rule === rule);
      const emails = rows
        .filter((r) => r.destination === JOB_QUEUE_DESTINATION)
        .map((r) => r.payload)
        .filter(isNewJob)
        .filter(
          (job) => job.name === ALERT_EMAIL_JOB && (job.data as AlertEmailData).rule === rule,
        );
      return { webhooks, emails, statuses: webhooks.map((w) => w.payload.status) };
    }
    const stateOf = (rule: string) =>
      database.db
        .selectFrom("alert_states")
        .selectAll()
        .where("rule", "=", rule)
        .executeTakeFirst();

    /** Two passes while the condition holds, then two after it is gone: one firing, one resolved. */
    async function firesOnceAndResolvesOnce(
      rule: string,
      condition: { raise(): Promise<void>; clear(): Promise<void> },
    ) {
      const alerts = evaluator();
      try {
        await condition.raise();
        const first = await alerts.evaluate();
        expect(first.leading).toBe(true);
        expect(first.measured[rule]?.firing).toBe(true);
        expect(first.transitions.map((t) => [t.rule, t.status])).toContainEqual([rule, "firing"]);
        await alerts.evaluate();
        const firing = await sent(rule);
        expect(firing.statuses).toEqual(["firing"]);
        // One email per recipient, each with its own stable id.
        expect(firing.emails.map((job) => (job.data as AlertEmailData).to)).toEqual(config.emails);
        expect(new Set(firing.emails.map((job) => job.jobId)).size).toBe(2);
        const notification = firing.webhooks[0]?.payload;
        expect(notification).toMatchObject({ source: "taskflow", rule, status: "firing" });
        expect(firing.webhooks[0]?.headers["idempotency-key"]).toBe(notification?.id);
        expect(firing.emails[0]?.jobId).toMatch(
          new RegExp(`^email\\.alert\\.${notification?.id.replaceAll(".", "\\.")}\\.[0-9a-f]{16}$`),
        );
        expect(await stateOf(rule)).toMatchObject({ firing: true });

        await condition.clear();
        const cleared = await alerts.evaluate();
        expect(cleared.measured[rule]?.firing).toBe(false);
        await alerts.evaluate();
        const after = await sent(rule);
        expect(after.statuses).toEqual(["firing", "resolved"]);
        const resolved = after.webhooks[1]?.payload;
        expect(resolved?.fired_at).toBe(notification?.since);
        expect(after.emails).toHaveLength(4);
        expect(await stateOf(rule)).toMatchObject({ firing: false });
        return notification;
      } finally {
        await alerts.stop();
      }
    }

    beforeEach(async () => {
      await database.db.deleteFrom("outbox").execute();
      await database.db.deleteFrom("alert_states").execute();
    });

    it("dead_letters: a dead-lettered task message plus a failed job fire it; removing them resolves it", async () => {
      const messageId = randomUUID();
      const jobId = `alerts-test.${randomUUID()}`;
      const notification = await firesOnceAndResolvesOnce("dead_letters", {
        async raise() {
          await taskQueue.publish([{ id: messageId, body: { taskId: messageId } }]);
          const subscription = await taskQueue.consume((d) => d.deadLetter("boom"), {
            prefetch: 1,
          });
          await jobQueue.add([{ name: "never.works", jobId, data: {}, attempts: 1 }]);
          const processor = await jobQueue.process(
            async () => {
              throw new PermanentJobError("no such luck");
            },
            { concurrency: 1 },
          );
          await waitFor(async () => (await taskQueue.stats()).deadLettered === 1);
          await waitFor(async () => (await jobQueue.counts()).failed === 1);
          await subscription.stop();
          await processor.close();
        },
        async clear() {
          await taskQueue.removeDeadLetters([messageId]);
          await jobQueue.remove(jobId);
        },
      });
      expect(notification).toMatchObject({ value: 2, threshold: 0, severity: "warning" });
    });

    it("failure_rate: judged only with 20 finished tasks; more than 20% FAILED fires it", async () => {
      const ownerId = randomUUID();
      await database.db
        .insertInto("users")
        .values({ id: ownerId, email: `${ownerId}@example.com`, name: "A", password_hash: "x" })
        .execute();
      const finish = (status: "DONE" | "FAILED", count: number) =>
        database.db
          .insertInto("tasks")
          .values(
            Array.from({ length: count }, () => ({
              id: randomUUID(),
              owner_id: ownerId,
              type: "echo",
              title: null,
              payload: "{}",
              status,
              max_attempts: 1,
              created_at: new Date(),
              updated_at: new Date(),
              finished_at: sql<Date>`now()`,
            })),
          )
          .execute();

      // 1 failure of 2: half, but too few to judge.
      await finish("FAILED", 1);
      await finish("DONE", 1);
      const alerts = evaluator();
      const few = await alerts.evaluate();
      await alerts.stop();
      expect(few.measured.failure_rate).toMatchObject({ firing: false, value: 0.5 });
      expect((await sent("failure_rate")).statuses).toEqual([]);

      const notification = await firesOnceAndResolvesOnce("failure_rate", {
        async raise() {
          await finish("FAILED", 5);
          await finish("DONE", 13);
        },
        async clear() {
          // Out of the 5-minute window.
          await sql`UPDATE tasks SET finished_at = now() - interval '6 minutes' WHERE owner_id = ${ownerId}`.execute(
            database.db,
          );
        },
      });
      expect(notification).toMatchObject({ value: 0.3, threshold: 0.2, severity: "critical" });
      expect(notification?.summary).toContain("30% of the 20 tasks");
      await database.db.deleteFrom("tasks").where("owner_id", "=", ownerId).execute();
    });

    it("task_backlog_without_workers: waiting task messages and no worker online; a worker's heartbeat resolves it", async () => {
      const heartbeat = createHeartbeat({
        db: database.db,
        role: "worker",
        concurrency: 1,
        stats: () => ({ inFlight: 0, processed: 0, failed: 0 }),
      });
      // A mailer online does not count for tasks, nor do the roles that take no work.
      const others = ["mailer", "api", "relay", "scheduler", "alerts"].map((role) =>
        createHeartbeat({
          db: database.db,
          role,
          concurrency: 1,
          stats: () => ({ inFlight: 0, processed: 0, failed: 0 }),
        }),
      );
      for (const other of others) await other.start();
      const notification = await firesOnceAndResolvesOnce("task_backlog_without_workers", {
        raise: () => taskQueue.publish([{ id: randomUUID(), body: {} }]),
        clear: () => heartbeat.start(),
      });
      expect(notification).toMatchObject({ value: 1, severity: "critical" });
      expect(notification?.summary).toBe("1 task messages waiting, 0 worker processes online");
      await heartbeat.stop();
      for (const other of others) await other.stop();
      await database.db.deleteFrom("queue_messages").where("queue", "=", taskQueue.name).execute();
      await database.db.deleteFrom("process_heartbeats").execute();
    });

    it("job_backlog_without_mailers: a due job and no mailer online; a mailer's heartbeat resolves it", async () => {
      const jobId = `alerts-test.${randomUUID()}`;
      const heartbeat = createHeartbeat({
        db: database.db,
        role: "mailer",
        concurrency: 1,
        stats: () => ({ inFlight: 0, processed: 0, failed: 0 }),
      });
      await firesOnceAndResolvesOnce("job_backlog_without_mailers", {
        raise: () => jobQueue.add([{ name: "email.welcome", jobId, data: {} }]),
        clear: () => heartbeat.start(),
      });
      await heartbeat.stop();
      await jobQueue.remove(jobId);
      await database.db.deleteFrom("process_heartbeats").execute();
    });

    /** An outbox message due for two minutes that no relay has published. */
    const stuckOutbox = {
      async raise() {
        await sql`INSERT INTO outbox (destination, payload, available_at, created_at)
                  VALUES ('task-queue', '{}', now() - interval '2 minutes', now() - interval '2 minutes')`.execute(
          database.db,
        );
      },
      async clear() {
        await database.db.deleteFrom("outbox").where("destination", "=", "task-queue").execute();
      },
    };

    it("outbox_lag: the oldest due outbox message waits longer than the threshold", async () => {
      const notification = await firesOnceAndResolvesOnce("outbox_lag", stuckOutbox);
      expect(notification?.value).toBeGreaterThanOrEqual(120);
      expect(notification?.threshold).toBe(60);
    });

    it("with a tracer, a transition is a span whose trace context its webhook and emails carry", async () => {
      const exporter = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({
        spanProcessors: [new SimpleSpanProcessor(exporter)],
      });
      const alerts = createAlertEvaluator({
        database,
        taskQueue,
        jobQueue,
        config,
        logger: silent,
        now: () => {
          clock.at += 15_000;
          return new Date(clock.at);
        },
        tracer: provider.getTracer("alerts"),
      });
      try {
        await stuckOutbox.raise();
        await alerts.evaluate();
        const [span] = exporter.getFinishedSpans().filter((s) => s.name === "alert firing");
        expect(span?.attributes["taskflow.alert.rule"]).toBe("outbox_lag");
        const { traceId, spanId } = span?.spanContext() ?? {};
        const rows = await database.db
          .selectFrom("outbox")
          .select(["destination", "headers"])
          .where("destination", "in", [ALERT_WEBHOOK_DESTINATION, JOB_QUEUE_DESTINATION])
          .execute();
        expect(rows).toHaveLength(3);
        for (const row of rows) {
          expect(row.headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);
        }
      } finally {
        await alerts.stop();
        await stuckOutbox.clear();
        await provider.shutdown();
      }
    });

    it("outbox_lag counts from when a message became due, not from when it was written", async () => {
      // A retry written 10 minutes ago with a 10-minute backoff, due just now: not late.
      await sql`INSERT INTO outbox (destination, payload, available_at, created_at)
                VALUES ('task-queue', '{}', now() - interval '1 second', now() - interval '10 minutes')`.execute(
        database.db,
      );
      const alerts = evaluator();
      const pass = await alerts.evaluate();
      await alerts.stop();
      expect(pass.measured.outbox_lag?.firing).toBe(false);
      await stuckOutbox.clear();
    });

    it("two evaluators: one acts, the other stands by and takes over without paging again", async () => {
      const a = evaluator();
      const b = evaluator(await another());
      try {
        await stuckOutbox.raise();
        const passes = await Promise.all([a.evaluate(), b.evaluate()]);
        expect(passes.map((p) => p.leading).sort()).toEqual([false, true]);
        await Promise.all([a.evaluate(), b.evaluate()]);
        expect((await sent("outbox_lag")).statuses).toEqual(["firing"]);
        // Their heartbeats: the leader evaluated twice, the standby not at all.
        expect([a.stats, b.stats].sort((x, y) => x.processed - y.processed)).toEqual([
          { inFlight: 0, processed: 0, failed: 0 },
          { inFlight: 0, processed: 2, failed: 0 },
        ]);

        const [leader, standby] = passes[0]?.leading ? [a, b] : [b, a];
        await leader.stop();
        const takeover = await standby.evaluate();
        expect(takeover.leading).toBe(true);
        expect(takeover.transitions).toEqual([]);

        await stuckOutbox.clear();
        await standby.evaluate();
        expect((await sent("outbox_lag")).statuses).toEqual(["firing", "resolved"]);
      } finally {
        await a.stop();
        await b.stop();
      }
    });

    it("a restarted evaluator (same database) does not notify again", async () => {
      await stuckOutbox.raise();
      const before = evaluator();
      await before.evaluate();
      await before.stop();

      const after = evaluator(await another());
      try {
        const pass = await after.evaluate();
        expect(pass.leading).toBe(true);
        expect(pass.measured.outbox_lag?.firing).toBe(true);
        expect(pass.transitions).toEqual([]);
        expect((await sent("outbox_lag")).statuses).toEqual(["firing"]);
        expect(await stateOf("outbox_lag")).toMatchObject({ firing: true });
      } finally {
        await after.stop();
        await stuckOutbox.clear();
      }
    });

    it("without a webhook or recipients, a transition is recorded and nothing is sent", async () => {
      await stuckOutbox.raise();
      const alerts = evaluator(database, { ...config, webhookUrl: undefined, emails: [] });
      const pass = await alerts.evaluate();
      await alerts.stop();
      await stuckOutbox.clear();
      expect(pass.transitions.map((t) => t.rule)).toEqual(["outbox_lag"]);
      expect(await database.db.selectFrom("outbox").selectAll().execute()).toEqual([]);
      expect(await stateOf("outbox_lag")).toMatchObject({ firing: true, last_notified_at: null });
    });

    it("the alert gauges report queues, dead letters and processes online", async () => {
      const metrics = createMetrics("alerts-test");
      registerAlertGauges({ metrics, database, taskQueue, jobQueue });
      await taskQueue.publish([{ id: randomUUID(), body: {} }]);
      const [heartbeat, api] = ["worker", "api"].map((role) =>
        createHeartbeat({
          db: database.db,
          role,
          concurrency: 1,
          stats: () => ({ inFlight: 0, processed: 0, failed: 0 }),
        }),
      );
      await heartbeat?.start();
      await api?.start();
      const text = await metrics.registry.metrics();
      await heartbeat?.stop();
      await api?.stop();
      await database.db.deleteFrom("queue_messages").where("queue", "=", taskQueue.name).execute();
      await database.db.deleteFrom("process_heartbeats").execute();

      expect(text).toMatch(/^taskflow_queue_waiting\{queue="tasks",service="alerts-test"\} 1$/m);
      expect(text).toMatch(/^taskflow_queue_waiting\{queue="jobs",service="alerts-test"\} 0$/m);
      expect(text).toMatch(/^taskflow_dead_letters\{queue="tasks",service="alerts-test"\} 0$/m);
      expect(text).toMatch(/^taskflow_workers_online\{role="worker",service="alerts-test"\} 1$/m);
      expect(text).toMatch(/^taskflow_workers_online\{role="mailer",service="alerts-test"\} 0$/m);
      // Only the roles that take work are reported: an api process is not a worker.
      expect(text).not.toMatch(/^taskflow_workers_online\{role="api"/m);
      expect(text).toMatch(/^taskflow_scrape_refresh_errors\{service="alerts-test"\} 0$/m);
    });
  });
}

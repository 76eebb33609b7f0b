import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "@taskflow/config";
import { createDatabase, createHeartbeat, migrateUp } from "@taskflow/db";
import { createSinkMailer, listSinkMail } from "@taskflow/mail";
import { createMailerWorker } from "@taskflow/mailer";
import { createEmbeddedJobQueue, createEmbeddedTaskQueue } from "@taskflow/messaging";
import { createLogger, createMetrics } from "@taskflow/observability";
import { createRelay, outboxPublishers } from "@taskflow/relay";
import { waitFor } from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";
import {
  ALERT_WEBHOOK_DESTINATION,
  type AlertNotification,
  alertWebhookPublisher,
  createAlertEvaluator,
} from "../src/index.ts";

/**
 * The whole path on the embedded engines: evaluator → outbox → relay → the webhook (a real
 * HTTP server) and the job queue → mailer → the mail sink. The relay is wired as the CLI
 * should wire it: the alert webhook publisher next to the engines' publishers.
 */
describe("an alert, delivered", async () => {
  const database = await createDatabase({ dataDir: "memory://" });
  await migrateUp(database.db);
  const silent = createLogger({ level: "silent", service: "alerts-delivery-test" });
  const metrics = createMetrics("alerts-delivery-test");
  const taskQueue = createEmbeddedTaskQueue({ database, queue: "alerts.tasks" });
  const jobQueue = createEmbeddedJobQueue({ database, queue: "alerts.jobs", pollMs: 50 });

  const posted: AlertNotification[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      posted.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as AlertNotification);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;

  const config: Config["alerts"] = {
    webhookUrl,
    emails: ["ops@example.com", "oncall@example.com"],
    deadLetters: 0,
    failureRate: 0.2,
    lagSeconds: 60,
  };
  const relay = createRelay({
    database,
    publishers: {
      ...outboxPublishers({ taskQueue, jobQueue }),
      [ALERT_WEBHOOK_DESTINATION]: alertWebhookPublisher(webhookUrl),
    },
    logger: silent,
    metrics,
  });
  const mailer = createMailerWorker({
    jobs: jobQueue,
    mailer: createSinkMailer({ database }),
    from: "TaskFlow <alerts@taskflow.example>",
    appUrl: "https://taskflow.example",
    concurrency: 2,
    logger: silent,
    metrics,
  });
  // The mailer's heartbeat, as the CLI's mailer role beats it: its jobs are not a backlog.
  const heartbeat = createHeartbeat({
    db: database.db,
    role: "mailer",
    concurrency: 2,
    stats: () => mailer.stats,
  });
  const alerts = createAlertEvaluator({
    database,
    taskQueue,
    jobQueue,
    config,
    logger: silent,
    metrics,
    intervalMs: 50,
  });
  afterAll(async () => {
    await alerts.stop();
    await relay.stop();
    await mailer.stop(1_000);
    await heartbeat.stop();
    await taskQueue.close();
    await jobQueue.close();
    await database.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("reaches the webhook once and each recipient by email once, firing then resolved", async () => {
    await relay.start();
    await mailer.start();
    await heartbeat.start();
    alerts.start();
    // A job no handler knows fails for good: a dead letter.
    await jobQueue.add([{ name: "email.unknown", jobId: "unknown.1", data: {}, attempts: 1 }]);
    await waitFor(async () => (await jobQueue.counts()).failed === 1);

    await waitFor(() => posted.some((p) => p.rule === "dead_letters"), { what: "the webhook" });
    const mail = await waitFor(
      async () => {
        const all = await listSinkMail(database.db, { limit: 10 });
        const alertMail = all.filter((m) => m.subject.includes("dead_letters"));
        return alertMail.length === 2 ? alertMail : undefined;
      },
      { what: "two alert emails" },
    );
    expect(mail.map((m) => m.to).sort()).toEqual(["oncall@example.com", "ops@example.com"]);
    expect(mail[0]?.subject).toBe(
      "[TaskFlow warning] FIRING: dead_letters — 1 dead letters (0 task messages, 1 failed jobs); allowed: 0",
    );

    await jobQueue.remove("unknown.1");
    await waitFor(() => posted.some((p) => p.rule === "dead_letters" && p.status === "resolved"), {
      what: "the resolved webhook",
    });
    await waitFor(
      async () =>
        (await listSinkMail(database.db, { limit: 10 })).filter((m) =>
          m.subject.includes("RESOLVED"),
        ).length === 2,
      { what: "two resolved emails" },
    );
    // A few more passes change nothing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(posted.filter((p) => p.rule === "dead_letters").map((p) => p.status)).toEqual([
      "firing",
      "resolved",
    ]);
    expect(
      (await listSinkMail(database.db, { limit: 10 })).filter((m) =>
        m.subject.includes("dead_letters"),
      ),
    ).toHaveLength(4);
  });
});

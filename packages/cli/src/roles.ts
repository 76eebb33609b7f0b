import {
  ALERT_WEBHOOK_DESTINATION,
  alertWebhookPublisher,
  createAlertEvaluator,
  registerAlertGauges,
} from "@taskflow/alerts";
import { buildApp, countRequests } from "@taskflow/api";
import { createHeartbeat, outboxLag, type ProcessStats } from "@taskflow/db";
import { createMailer } from "@taskflow/mail";
import { createMailerWorker } from "@taskflow/mailer";
import { startOpsServer } from "@taskflow/observability";
import { createRelay, outboxPublishers } from "@taskflow/relay";
import { createHistoryPruner, createScheduler } from "@taskflow/scheduler";
import { createScheduleRepository, createTaskRepository } from "@taskflow/tasks";
import { createWorker, taskHandlers } from "@taskflow/worker";
import type { Runtime } from "./runtime.ts";
import { tokenServiceFor } from "./runtime.ts";

/** A started role: `stop` drains its in-flight work. */
export interface RunningRole {
  name: string;
  stop(): Promise<void>;
}

/**
 * A started role that beats in `process_heartbeats` under its name (so `taskflow start`
 * beats once per role, as the roles would alone); its stop drains the role, then marks the
 * row stopped. A first beat that cannot be written stops the role again: it fails to start.
 */
async function withHeartbeat(
  rt: Runtime,
  role: RunningRole,
  beat: { concurrency: number; stats: () => ProcessStats },
): Promise<RunningRole> {
  const heartbeat = createHeartbeat({
    db: rt.database.db,
    role: role.name,
    ...beat,
    onError: (error) => rt.logger.warn({ err: error }, `${role.name} heartbeat not written`),
  });
  try {
    await heartbeat.start();
  } catch (error) {
    await role.stop().catch(() => {});
    throw error;
  }
  return {
    name: role.name,
    async stop() {
      try {
        await role.stop();
      } finally {
        await heartbeat.stop();
      }
    },
  };
}

function readinessChecks(rt: Runtime) {
  return {
    database: () => rt.database.ping(),
    task_queue: () => rt.taskQueue.ping(),
    job_queue: () => rt.jobQueue.ping(),
  };
}

function refreshTaskGauges(rt: Runtime) {
  rt.metrics.onCollect(async () => {
    const rows = await rt.database.db
      .selectFrom("task_counts")
      .select(["status", (eb) => eb.fn.sum<number>("count").as("total")])
      .groupBy("status")
      .execute();
    rt.metrics.tasksByStatus.reset();
    for (const row of rows) rt.metrics.tasksByStatus.set({ status: row.status }, Number(row.total));
  });
}

/** The HTTP API, with the operations routes on the same port. */
export async function startApi(rt: Runtime, options: { port: number }): Promise<RunningRole> {
  refreshTaskGauges(rt);
  const app = await buildApp({
    database: rt.database,
    tokens: tokenServiceFor(rt.config, rt.logger),
    handlers: taskHandlers,
    logger: rt.logger.child({ role: "api" }),
    metrics: rt.metrics,
    checks: readinessChecks(rt),
    loginRateLimitPerMinute: rt.config.auth.loginRateLimitPerMinute,
    loginRateLimitPerAddressPerMinute: rt.config.auth.loginRateLimitPerAddressPerMinute,
    taskRateLimitPerMinute: rt.config.tasks.rateLimitPerMinute,
    rateLimitRedisUrl: rt.config.jobs.redisUrl,
    cookieSecure: rt.config.auth.cookieSecure,
    trustProxy: rt.config.trustProxy,
    devMail: !rt.config.isProduction,
    adminEmails: rt.config.auth.adminEmails,
    taskQueue: rt.taskQueue,
    jobQueue: rt.jobQueue,
  });
  const requests = countRequests(app.server);
  const url = await app.listen({ host: rt.config.host, port: options.port });
  rt.logger.info({ url, docs: `${url}/docs` }, "api listening");
  // Concurrency 0: the API takes as many requests as come.
  return withHeartbeat(
    rt,
    { name: "api", stop: () => app.close() },
    { concurrency: 0, stats: () => requests.stats },
  );
}

export async function startWorker(rt: Runtime): Promise<RunningRole> {
  const worker = createWorker({
    tasks: createTaskRepository(rt.database.db),
    queue: rt.taskQueue,
    handlers: taskHandlers,
    logger: rt.logger.child({ role: "worker" }),
    metrics: rt.metrics,
    concurrency: rt.config.worker.concurrency,
    prefetch: rt.config.worker.prefetch,
    retry: { baseMs: rt.config.worker.retryBaseMs, maxMs: rt.config.worker.retryMaxMs },
  });
  await worker.start();
  const heartbeat = createHeartbeat({
    db: rt.database.db,
    role: "worker",
    concurrency: rt.config.worker.concurrency,
    stats: () => worker.stats,
    onError: (error) => rt.logger.warn({ err: error }, "worker heartbeat not written"),
  });
  await heartbeat.start();
  return {
    name: "worker",
    async stop() {
      await worker.stop(rt.config.shutdownTimeoutMs);
      await heartbeat.stop();
    },
  };
}

export async function startRelay(rt: Runtime): Promise<RunningRole> {
  rt.metrics.onCollect(async () => {
    const lag = await outboxLag(rt.database.db);
    rt.metrics.outboxPending.set(lag.pending);
    rt.metrics.outboxLagSeconds.set(lag.oldestSeconds);
  });
  const relay = createRelay({
    database: rt.database,
    publishers: {
      ...outboxPublishers({ taskQueue: rt.taskQueue, jobQueue: rt.jobQueue }),
      // Without a webhook, alert rows written earlier (when one was set) are let go.
      [ALERT_WEBHOOK_DESTINATION]: rt.config.alerts.webhookUrl
        ? alertWebhookPublisher(rt.config.alerts.webhookUrl)
        : async (rows) =>
            rt.logger.warn({ count: rows.length }, "TASKFLOW_ALERT_WEBHOOK unset: alerts dropped"),
    },
    logger: rt.logger.child({ role: "relay" }),
    metrics: rt.metrics,
  });
  await relay.start();
  return withHeartbeat(
    rt,
    { name: "relay", stop: () => relay.stop() },
    { concurrency: relay.batchSize, stats: () => relay.stats },
  );
}

/**
 * Runs the email jobs; its mailer (SMTP, or the embedded sink) is its own. An SMTP server
 * that is down does not make the mailer unready: its jobs wait and retry.
 */
export async function startMailer(rt: Runtime): Promise<RunningRole> {
  const mailer = await createMailer({ smtpUrl: rt.config.mail.smtpUrl, database: rt.database });
  const worker = createMailerWorker({
    jobs: rt.jobQueue,
    mailer,
    from: rt.config.mail.from,
    appUrl: rt.config.mail.appUrl,
    concurrency: rt.config.jobs.mailerConcurrency,
    logger: rt.logger.child({ role: "mailer" }),
    metrics: rt.metrics,
  });
  await worker.start();
  const heartbeat = createHeartbeat({
    db: rt.database.db,
    role: "mailer",
    concurrency: rt.config.jobs.mailerConcurrency,
    stats: () => worker.stats,
    onError: (error) => rt.logger.warn({ err: error }, "mailer heartbeat not written"),
  });
  await heartbeat.start();
  rt.logger.info({ mailer: mailer.engine }, "mailer started");
  return {
    name: "mailer",
    async stop() {
      await worker.stop(rt.config.shutdownTimeoutMs);
      await heartbeat.stop();
      await mailer.close();
    },
  };
}

/** Fires the cron schedules (any number may run) and prunes the history past its retention. */
export async function startScheduler(rt: Runtime): Promise<RunningRole> {
  const scheduler = createScheduler({
    schedules: createScheduleRepository(rt.database.db),
    tasks: createTaskRepository(rt.database.db),
    logger: rt.logger.child({ role: "scheduler" }),
  });
  const pruner = createHistoryPruner({
    db: rt.database.db,
    retentionDays: rt.config.history.retentionDays,
    logger: rt.logger.child({ role: "history-pruner" }),
  });
  scheduler.start();
  pruner.start();
  const role = {
    name: "scheduler",
    async stop() {
      await pruner.stop();
      await scheduler.stop();
    },
  };
  return withHeartbeat(rt, role, { concurrency: 1, stats: () => scheduler.stats });
}

/** Evaluates the alert rules (one evaluator acts at a time) and exports the gauges they read. */
export async function startAlerts(rt: Runtime): Promise<RunningRole> {
  registerAlertGauges({
    metrics: rt.metrics,
    database: rt.database,
    taskQueue: rt.taskQueue,
    jobQueue: rt.jobQueue,
  });
  const alerts = createAlertEvaluator({
    database: rt.database,
    taskQueue: rt.taskQueue,
    jobQueue: rt.jobQueue,
    config: rt.config.alerts,
    logger: rt.logger.child({ role: "alerts" }),
    metrics: rt.metrics,
  });
  alerts.start();
  return withHeartbeat(
    rt,
    { name: "alerts", stop: () => alerts.stop() },
    { concurrency: 1, stats: () => alerts.stats },
  );
}

/** /healthz, /readyz and /metrics for a role without an HTTP API of its own. */
export async function startOps(rt: Runtime, options: { port: number }): Promise<RunningRole> {
  const { app, url } = await startOpsServer({
    host: rt.config.host,
    port: options.port,
    logger: rt.logger,
    checks: readinessChecks(rt),
    metrics: rt.metrics,
  });
  rt.logger.info({ url }, "operations endpoints listening");
  return { name: "ops", stop: () => app.close() };
}

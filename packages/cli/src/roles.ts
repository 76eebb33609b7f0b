// Each role imports its service when it starts (`await import`): in the bundle every service is
// a chunk of its own, so a process loads the modules and npm dependencies of the roles it runs
// only (a relay has no HTTP framework, gRPC or mail client in memory).
import type { TokenService } from "@taskflow/auth";
import { createHeartbeat, outboxLag, type ProcessStats } from "@taskflow/db";
import { embeddedTopicPartitions } from "@taskflow/messaging";
import { startOpsServer, tracerFor } from "@taskflow/observability";
import { ORDERS_TOPIC } from "@taskflow/orders";
import { createTaskRepository, TASKS_TOPIC, type TaskEventRoute } from "@taskflow/tasks";
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

/**
 * A token for calls this process makes to other services as itself (the API to the
 * validator), issued by the shared token service and renewed before it expires.
 */
function serviceToken(tokens: TokenService, service: string): () => Promise<string> {
  let current: { token: string; renewAt: number } | undefined;
  return async () => {
    if (!current || Date.now() >= current.renewAt) {
      const issued = await tokens.issueService(service);
      // Renewed at half its life: a call never carries a token about to expire.
      current = {
        token: issued.access_token,
        renewAt: Date.now() + (issued.expires_in * 1000) / 2,
      };
    }
    return current.token;
  };
}

/**
 * The HTTP API, with the operations routes on the same port, and the built web app at / (its
 * `url`; `webApp` says whether there was one to serve). Orders are validated by the validator
 * at `validatorUrl` (TASKFLOW_VALIDATOR_URL, or the one `start` runs in-process).
 */
export async function startApi(
  rt: Runtime,
  options: { port: number; validatorUrl?: string | undefined },
): Promise<RunningRole & { url: string; webApp: boolean }> {
  const [{ buildApp, countRequests, isWebAppBuilt }, { taskHandlersFor }] = await Promise.all([
    import("@taskflow/api"),
    import("@taskflow/worker/handlers"),
  ]);
  refreshTaskGauges(rt);
  const tokens = tokenServiceFor(rt.config, rt.logger);
  const validatorUrl = options.validatorUrl ?? rt.config.validator.url;
  // gRPC is loaded only by an API that has a validator to call.
  const validator = validatorUrl ? await validatorClient(validatorUrl, tokens) : undefined;
  if (!validator) rt.logger.warn("TASKFLOW_VALIDATOR_URL unset: orders answer 503");
  const webDir = rt.config.web.dir;
  if (webDir === undefined)
    rt.logger.warn("no web app: TASKFLOW_WEB_DIR is unset and @taskflow/web is not installed");
  const app = await buildApp({
    ...(validator && { orderValidator: validator.orders }),
    tracer: tracerFor("api"),
    database: rt.database,
    tokens,
    handlers: taskHandlersFor(rt.config.chaos.effectUrl),
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
    webDir,
  });
  const requests = countRequests(app.server);
  const url = await app.listen({ host: rt.config.host, port: options.port });
  const webApp = webDir !== undefined && isWebAppBuilt(webDir);
  rt.logger.info({ url, docs: `${url}/docs`, ...(webApp && { app: `${url}/` }) }, "api listening");
  // Concurrency 0: the API takes as many requests as come.
  const role = await withHeartbeat(
    rt,
    {
      name: "api",
      async stop() {
        await app.close();
        validator?.client.close();
      },
    },
    { concurrency: 0, stats: () => requests.stats },
  );
  return { ...role, url, webApp };
}

/** The validator's gRPC client, and the orders use case's view of it (traced as the api). */
async function validatorClient(url: string, tokens: TokenService) {
  const [{ createValidatorClient }, { grpcOrderValidator }] = await Promise.all([
    import("@taskflow/validator/client"),
    import("@taskflow/api/grpc-order-validator"),
  ]);
  const client = createValidatorClient(url, serviceToken(tokens, "api"));
  return { client, orders: grpcOrderValidator(client, tracerFor("api")) };
}

export async function startWorker(rt: Runtime): Promise<RunningRole> {
  const { createWorker, taskHandlersFor } = await import("@taskflow/worker");
  const worker = createWorker({
    tasks: createTaskRepository(rt.database.db, { taskEvents: await taskEventRoute(rt) }),
    queue: rt.taskQueue,
    handlers: taskHandlersFor(rt.config.chaos.effectUrl),
    logger: rt.logger.child({ role: "worker" }),
    metrics: rt.metrics,
    concurrency: rt.config.worker.concurrency,
    prefetch: rt.config.worker.prefetch,
    retry: { baseMs: rt.config.worker.retryBaseMs, maxMs: rt.config.worker.retryMaxMs },
    tracer: tracerFor("worker"),
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

/** The event stream's topics whose events the outbox holds (record key: the entity's id). */
const STREAM_TOPICS = [ORDERS_TOPIC, TASKS_TOPIC];
/** Their partitions, fixed when the first role (relay or analytics) creates them. */
const STREAM_PARTITIONS = 3;

/**
 * Without TASKFLOW_STREAM_URL the event stream is rows of the application database, so the
 * worker appends the events of the tasks it ends itself, in the transaction that ends them:
 * no outbox row, no relay round trip, one commit fewer (docs/ARCHITECTURE.md has the
 * figures). On another engine they go through the outbox and the relay.
 */
async function taskEventRoute(rt: Runtime): Promise<TaskEventRoute> {
  if (rt.config.stream.url) return { to: "outbox" };
  await rt.eventStream().ensureTopic(TASKS_TOPIC, { partitions: STREAM_PARTITIONS });
  const partitions = await embeddedTopicPartitions(rt.database.db, TASKS_TOPIC);
  return { to: "embedded-stream", partitions };
}

export async function startRelay(rt: Runtime): Promise<RunningRole> {
  const [{ createRelay, outboxPublishers }, { ALERT_WEBHOOK_DESTINATION, alertWebhookPublisher }] =
    await Promise.all([import("@taskflow/relay"), import("@taskflow/alerts")]);
  rt.metrics.onCollect(async () => {
    const lag = await outboxLag(rt.database.db);
    rt.metrics.outboxPending.set(lag.pending);
    rt.metrics.outboxLagSeconds.set(lag.oldestSeconds);
  });
  const stream = rt.eventStream();
  for (const topic of STREAM_TOPICS)
    await stream.ensureTopic(topic, { partitions: STREAM_PARTITIONS });
  const relay = createRelay({
    database: rt.database,
    publishers: {
      ...outboxPublishers({
        tracer: tracerFor("relay"),
        taskQueue: rt.taskQueue,
        jobQueue: rt.jobQueue,
        eventBus: rt.eventBus(),
        eventStream: { stream, topics: STREAM_TOPICS },
      }),
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
  const [{ createMailer, withSentLedger }, { createMailerWorker }] = await Promise.all([
    import("@taskflow/mail"),
    import("@taskflow/mailer"),
  ]);
  const log = rt.logger.child({ role: "mailer" });
  const mailer = withSentLedger(
    createMailer({ smtpUrl: rt.config.mail.smtpUrl, database: rt.database }),
    {
      database: rt.database,
      onRecordFailed: (error, message) =>
        log.error(
          { err: error, messageId: message.messageId },
          "email sent but not recorded in sent_emails: a rerun of its job would send it again",
        ),
      onPruneFailed: (error) => log.warn({ err: error }, "sent_emails past retention not deleted"),
    },
  );
  const worker = createMailerWorker({
    tracer: tracerFor("mailer"),
    jobs: rt.jobQueue,
    mailer,
    from: rt.config.mail.from,
    appUrl: rt.config.mail.appUrl,
    concurrency: rt.config.jobs.mailerConcurrency,
    logger: log,
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

/** Turns order events into notifications and confirmation emails (its own bus queue). */
export async function startNotifier(rt: Runtime): Promise<RunningRole> {
  const [{ createNotifier }, { createNotificationRepository }] = await Promise.all([
    import("@taskflow/notifier"),
    import("@taskflow/notifications"),
  ]);
  const notifier = createNotifier({
    tracer: tracerFor("notifier"),
    bus: rt.eventBus(),
    notifications: createNotificationRepository(rt.database.db),
    logger: rt.logger.child({ role: "notifier" }),
    metrics: rt.metrics,
  });
  await notifier.start();
  return withHeartbeat(
    rt,
    { name: "notifier", stop: () => notifier.stop(rt.config.shutdownTimeoutMs) },
    { concurrency: 50, stats: () => notifier.stats },
  );
}

/**
 * Counts the orders and tasks streams into the analytics aggregates, each event exactly once.
 * One analytics consumer counts at a time (it holds the group's advisory lock); another
 * stands by. Stopping finishes and commits the batches in hand.
 */
export async function startAnalytics(rt: Runtime): Promise<RunningRole> {
  const { createAnalyticsConsumer } = await import("@taskflow/analytics");
  const stream = rt.eventStream();
  for (const topic of STREAM_TOPICS)
    await stream.ensureTopic(topic, { partitions: STREAM_PARTITIONS });
  const analytics = createAnalyticsConsumer({
    tracer: tracerFor("analytics"),
    stream,
    database: rt.database,
    logger: rt.logger.child({ role: "analytics" }),
    metrics: rt.metrics,
  });
  await analytics.start();
  return withHeartbeat(
    rt,
    { name: "analytics", stop: () => analytics.stop() },
    { concurrency: analytics.concurrency, stats: () => analytics.stats },
  );
}

/**
 * `taskflow analytics rebuild`: empties the aggregates and recounts the streams from their
 * start (refused while an analytics consumer runs). Answers the summary line.
 */
export async function rebuildAnalytics(rt: Runtime): Promise<string> {
  const { formatRebuildSummary, rebuildAnalytics: rebuildAnalyticsAggregates } = await import(
    "@taskflow/analytics"
  );
  const stream = rt.eventStream();
  for (const topic of STREAM_TOPICS)
    await stream.ensureTopic(topic, { partitions: STREAM_PARTITIONS });
  const summary = await rebuildAnalyticsAggregates({
    stream,
    database: rt.database,
    logger: rt.logger.child({ role: "analytics-rebuild" }),
  });
  return formatRebuildSummary(summary);
}

/** Fires the cron schedules (any number may run) and prunes the history past its retention. */
export async function startScheduler(rt: Runtime): Promise<RunningRole> {
  const [{ createHistoryPruner, createScheduler }, { createScheduleRepository }] =
    await Promise.all([import("@taskflow/scheduler"), import("@taskflow/tasks")]);
  const scheduler = createScheduler({
    tracer: tracerFor("scheduler"),
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
  const { createAlertEvaluator, registerAlertGauges } = await import("@taskflow/alerts");
  registerAlertGauges({
    metrics: rt.metrics,
    database: rt.database,
    taskQueue: rt.taskQueue,
    jobQueue: rt.jobQueue,
  });
  const alerts = createAlertEvaluator({
    tracer: tracerFor("alerts"),
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

/**
 * The order validator: gRPC on host:port (port 0: an ephemeral one; `url` is what clients
 * dial), its health in grpc.health.v1. Its HTTP ops endpoints, which depend only on the
 * database, listen on `opsPort` when one is given.
 */
export async function startValidator(
  rt: Runtime,
  options: { host: string; port: number; opsPort?: number | undefined },
): Promise<RunningRole & { url: string }> {
  const { createProductRepository, createValidatorServer } = await import("@taskflow/validator");
  const logger = rt.logger.child({ role: "validator" });
  const server = createValidatorServer({
    tracer: tracerFor("validator"),
    products: createProductRepository(rt.database.db),
    tokens: tokenServiceFor(rt.config, rt.logger),
    logger,
    ready: () => rt.database.ping(),
  });
  const { url } = await server.listen(options.host, options.port);
  logger.info({ url }, "validator listening (gRPC)");
  let ops: Awaited<ReturnType<typeof startOpsServer>> | undefined;
  try {
    if (options.opsPort !== undefined) {
      ops = await startOpsServer({
        host: rt.config.host,
        port: options.opsPort,
        logger,
        checks: { database: () => rt.database.ping() },
        metrics: rt.metrics,
      });
      logger.info({ url: ops.url }, "operations endpoints listening");
    }
  } catch (error) {
    await server.shutdown(0);
    throw error;
  }
  const role = await withHeartbeat(
    rt,
    {
      name: "validator",
      async stop() {
        await server.shutdown(rt.config.shutdownTimeoutMs);
        await ops?.app.close();
      },
    },
    // Concurrency 0: it takes as many calls as come.
    { concurrency: 0, stats: () => server.stats },
  );
  return { ...role, url };
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

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The Prometheus metrics of one process. Every role registers the same names, so a
 * dashboard sums them across processes; a role simply leaves unused ones at zero.
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const refreshers: (() => Promise<void>)[] = [];
  let refreshing: Promise<number> | undefined;
  // The registry collects every metric of a scrape at once: each refreshed gauge waits for the
  // one shared refresh (else it would be serialized before the refresh and lag a scrape behind).
  const refresh = () => {
    refreshing ??= Promise.allSettled(refreshers.map((run) => run()))
      .then((results) => results.filter((r) => r.status === "rejected").length)
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  };
  const refreshed = {
    registers: [registry],
    async collect() {
      await refresh();
    },
  };
  new Gauge({
    name: "taskflow_scrape_refresh_errors",
    help: "Database-backed gauges that could not be refreshed on the last scrape",
    registers: [registry],
    async collect() {
      this.set(await refresh());
    },
  });
  return {
    registry,
    httpDuration: new Histogram({
      name: "taskflow_http_request_duration_seconds",
      help: "HTTP request latency by route and status code",
      labelNames: ["method", "route", "status_code"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: "taskflow_group_commit_batch_size",
      help: "Items written per group commit (one statement, one fsync), by what was written",
      labelNames: ["batch"] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    published: new Counter({
      name: "taskflow_messages_published_total",
      help: "Messages the relay published and the engine confirmed, by destination",
      labelNames: ["destination"] as const,
      registers: [registry],
    }),
    consumed: new Counter({
      name: "taskflow_messages_consumed_total",
      help: "Deliveries settled by consumers, by queue and outcome (ack, retry, dead, skip)",
      labelNames: ["queue", "outcome"] as const,
      registers: [registry],
    }),
    tasksFinished: new Counter({
      name: "taskflow_tasks_finished_total",
      help: "Task attempts finished by workers, by type and resulting status",
      labelNames: ["type", "status"] as const,
      registers: [registry],
    }),
    jobsFinished: new Counter({
      name: "taskflow_jobs_finished_total",
      help: "Background job attempts finished, by job name and outcome (completed, retry, failed)",
      labelNames: ["name", "outcome"] as const,
      registers: [registry],
    }),
    /** Set by a collect callback where the role can read them (see `onCollect`). */
    tasksByStatus: new Gauge({
      name: "taskflow_tasks",
      help: "Tasks by status, across all owners",
      labelNames: ["status"] as const,
      ...refreshed,
    }),
    outboxPending: new Gauge({
      name: "taskflow_outbox_pending",
      help: "Outbox messages due and not yet published",
      ...refreshed,
    }),
    outboxLagSeconds: new Gauge({
      name: "taskflow_outbox_lag_seconds",
      help: "Age of the oldest due outbox message",
      ...refreshed,
    }),
    /** Queue and process gauges for alerting, refreshed where the alerts role runs (services/alerts). */
    deadLetters: new Gauge({
      name: "taskflow_dead_letters",
      help: "Dead-lettered task messages (queue=tasks) and failed jobs (queue=jobs)",
      labelNames: ["queue"] as const,
      ...refreshed,
    }),
    queueWaiting: new Gauge({
      name: "taskflow_queue_waiting",
      help: "Task messages (queue=tasks) and due jobs (queue=jobs) waiting for a consumer",
      labelNames: ["queue"] as const,
      ...refreshed,
    }),
    workersOnline: new Gauge({
      name: "taskflow_workers_online",
      help: "Processes beating their heartbeat, by role (worker, mailer)",
      labelNames: ["role"] as const,
      ...refreshed,
    }),
    alertFiring: new Gauge({
      name: "taskflow_alert_firing",
      help: "1 while an alert rule of the leading alert evaluator fires, by rule",
      labelNames: ["rule"] as const,
      registers: [registry],
    }),
    /** Runs `refresh` before each scrape, so gauges read from the database stay current. */
    onCollect(refresh: () => Promise<void>) {
      refreshers.push(refresh);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

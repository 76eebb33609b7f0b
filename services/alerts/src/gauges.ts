import { type DatabaseHandle, listHeartbeats, outboxLag } from "@taskflow/db";
import type { JobQueue, TaskQueue } from "@taskflow/messaging";
import type { Metrics } from "@taskflow/observability";

/** The heartbeat roles whose processes take work: reported even at zero (an alert needs the 0). */
const ROLES = ["worker", "mailer"] as const;

/**
 * Refreshes, before each scrape, the gauges deploy/prometheus/alerts.yml reads: dead letters
 * and waiting work per queue, processes online per role, and the outbox lag (also refreshed by
 * the relay role; exported here too so that a dead relay still shows its lag). Register it in
 * one role per deployment (the alerts role): each refresh asks the engines.
 */
export function registerAlertGauges(sources: {
  metrics: Metrics;
  database: DatabaseHandle;
  taskQueue: TaskQueue;
  jobQueue: JobQueue;
}): void {
  const { metrics, database, taskQueue, jobQueue } = sources;
  metrics.onCollect(async () => {
    const tasks = await taskQueue.stats();
    metrics.deadLetters.set({ queue: "tasks" }, tasks.deadLettered);
    metrics.queueWaiting.set({ queue: "tasks" }, tasks.waiting);
  });
  metrics.onCollect(async () => {
    const jobs = await jobQueue.counts();
    metrics.deadLetters.set({ queue: "jobs" }, jobs.failed);
    metrics.queueWaiting.set({ queue: "jobs" }, jobs.waiting);
  });
  metrics.onCollect(async () => {
    const processes = await listHeartbeats(database.db);
    for (const role of ROLES) {
      const online = processes.filter((p) => p.role === role && p.status === "online").length;
      metrics.workersOnline.set({ role }, online);
    }
  });
  metrics.onCollect(async () => {
    const lag = await outboxLag(database.db);
    metrics.outboxPending.set(lag.pending);
    metrics.outboxLagSeconds.set(lag.oldestSeconds);
  });
}

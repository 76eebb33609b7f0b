import type { Config } from "@taskflow/config";
import {
  type AlertStateRow,
  appendToOutbox,
  type DatabaseHandle,
  type OutboxMessage,
  type SessionLock,
} from "@taskflow/db";
import { alertEmailJob } from "@taskflow/mail";
import { JOB_QUEUE_DESTINATION, type JobQueue, type TaskQueue } from "@taskflow/messaging";
import {
  endSpan,
  type Logger,
  type Metrics,
  type Span,
  startSpan,
  type Tracer,
  traceparentOf,
} from "@taskflow/observability";
import {
  type AlertMeasurement,
  type AlertRule,
  type AlertSeverity,
  defaultAlertRules,
} from "./rules.ts";
import { ALERT_WEBHOOK_DESTINATION } from "./webhook.ts";

/** What the webhook receives (POSTed as JSON), and what an alert email is made from. */
export interface AlertNotification {
  /** The transition's identity, `<rule>.<status>.<since, ms>`: deduplicate on it. */
  id: string;
  source: "taskflow";
  rule: string;
  status: "firing" | "resolved";
  severity: AlertSeverity;
  summary: string;
  value: number;
  threshold: number;
  /** ISO time the new state began. */
  since: string;
  /** ISO time a resolved alert had begun firing; null while firing. */
  fired_at: string | null;
}

export interface AlertPass {
  /** False: another evaluator leads, nothing was measured. */
  leading: boolean;
  /** Per rule measured this pass (a rule whose measurement failed is absent). */
  measured: Record<string, AlertMeasurement>;
  /** The notifications written this pass (one per transition). */
  transitions: AlertNotification[];
}

export interface AlertEvaluatorOptions {
  database: DatabaseHandle;
  taskQueue: TaskQueue;
  jobQueue: JobQueue;
  config: Config["alerts"];
  logger: Logger;
  metrics?: Metrics;
  /** Time between two passes. */
  intervalMs?: number;
  /** The clock of the transitions' times (tests set it). */
  now?: () => Date;
  /** Replaces the default rules, e.g. to add a stream lag rule (see `streamLagRule`). */
  rules?: AlertRule[];
  /**
   * Tracing on: a span per transition, whose context its notifications carry (outbox headers),
   * so the webhook call and the alert email join the transition's trace.
   */
  tracer?: Tracer | undefined;
}

const LEADER_LOCK = "taskflow:alerts";

/**
 * Evaluates the alert rules every `intervalMs` and notifies on transitions only: when a rule
 * starts firing and when it stops. One evaluator acts at a time (a session advisory lock, as
 * the relay's); others stand by and take over when its session ends. The state of each rule
 * lives in `alert_states`, and a transition writes the new state and its notifications (the
 * webhook, an email job per recipient) into the outbox in one transaction: nothing is lost
 * when the process dies, and a restart or a new leader does not page again.
 */
export function createAlertEvaluator(options: AlertEvaluatorOptions) {
  const { database, config, logger, metrics } = options;
  const db = database.db;
  const intervalMs = options.intervalMs ?? 15_000;
  const now = options.now ?? (() => new Date());
  const rules =
    options.rules ??
    defaultAlertRules({
      db,
      taskQueue: options.taskQueue,
      jobQueue: options.jobQueue,
      config,
    });
  let lock: SessionLock | undefined;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let previous: Promise<unknown> = Promise.resolve();
  /**
   * For the heartbeat: a pass running now, passes that evaluated the rules (a standby's pass,
   * which only looks for the lead, is not one), passes that failed.
   */
  const stats = { inFlight: 0, processed: 0, failed: 0 };

  async function lead(): Promise<boolean> {
    if (lock?.held) return true;
    lock = await database.tryLock(LEADER_LOCK).catch((error: unknown) => {
      logger.warn({ err: error }, "alerts: cannot reach the database");
      return undefined;
    });
    if (lock) logger.info("alerts: leading (evaluating the alert rules)");
    return lock !== undefined;
  }

  /** Measures every rule; one that cannot be measured keeps its state until it can. */
  async function measureAll(): Promise<Map<AlertRule, AlertMeasurement>> {
    const results = await Promise.allSettled(rules.map((rule) => rule.measure()));
    const measured = new Map<AlertRule, AlertMeasurement>();
    results.forEach((result, i) => {
      const rule = rules[i];
      if (!rule) return;
      if (result.status === "fulfilled") measured.set(rule, result.value);
      else logger.warn({ err: result.reason, rule: rule.name }, "alerts: rule not measured");
    });
    return measured;
  }

  function notificationsFor(
    notification: AlertNotification,
    traceparent: string | undefined,
  ): OutboxMessage[] {
    const trace: Record<string, string> = traceparent ? { traceparent } : {};
    const messages: OutboxMessage[] = [];
    if (config.webhookUrl) {
      messages.push({
        destination: ALERT_WEBHOOK_DESTINATION,
        key: notification.rule,
        payload: notification,
        headers: { "idempotency-key": notification.id, ...trace },
      });
    }
    for (const to of config.emails) {
      messages.push({
        destination: JOB_QUEUE_DESTINATION,
        key: notification.rule,
        headers: trace,
        payload: alertEmailJob({
          alert_id: notification.id,
          to,
          rule: notification.rule,
          status: notification.status,
          severity: notification.severity,
          summary: notification.summary,
          value: notification.value,
          threshold: notification.threshold,
          since: notification.since,
          fired_at: notification.fired_at,
        }),
      });
    }
    return messages;
  }

  /** Records the pass's measurements; returns the transitions, whose notifications it wrote. */
  async function record(measured: Map<AlertRule, AlertMeasurement>): Promise<AlertNotification[]> {
    if (measured.size === 0) return [];
    // The transitions' spans end once their transaction has committed (or failed).
    const spans: Span[] = [];
    try {
      const transitions = await recordIn(measured, now(), spans);
      for (const span of spans) span.end();
      return transitions;
    } catch (error) {
      for (const span of spans) endSpan(span, error);
      throw error;
    }
  }

  async function recordIn(
    measured: Map<AlertRule, AlertMeasurement>,
    at: Date,
    spans: Span[],
  ): Promise<AlertNotification[]> {
    const names = [...measured.keys()].map((rule) => rule.name);
    return db.transaction().execute(async (trx) => {
      // Rows first (a new rule starts resolved), then locked: a second evaluator that got
      // here anyway (a lock lost mid-pass) waits, then sees the flipped state and does nothing.
      await trx
        .insertInto("alert_states")
        .values(names.map((rule) => ({ rule, firing: false, value: 0, since: at })))
        .onConflict((oc) => oc.column("rule").doNothing())
        .execute();
      const rows = await trx
        .selectFrom("alert_states")
        .selectAll()
        .where("rule", "in", names)
        .orderBy("rule")
        .forUpdate()
        .execute();
      const states = new Map<string, AlertStateRow>(rows.map((row) => [row.rule, row]));
      const transitions: AlertNotification[] = [];
      const messages: OutboxMessage[] = [];
      for (const [rule, measurement] of measured) {
        const state = states.get(rule.name);
        if (!state) continue;
        if (state.firing === measurement.firing) {
          await trx
            .updateTable("alert_states")
            .set({ value: measurement.value })
            .where("rule", "=", rule.name)
            .execute();
          continue;
        }
        const status = measurement.firing ? "firing" : "resolved";
        const notification: AlertNotification = {
          id: `${rule.name}.${status}.${at.getTime()}`,
          source: "taskflow",
          rule: rule.name,
          status,
          severity: rule.severity,
          summary: measurement.summary,
          value: measurement.value,
          threshold: measurement.threshold,
          since: at.toISOString(),
          fired_at: measurement.firing ? null : new Date(state.since).toISOString(),
        };
        const span = options.tracer
          ? startSpan(options.tracer, `alert ${status}`, {
              attributes: {
                "taskflow.alert.rule": rule.name,
                "taskflow.alert.status": status,
                "taskflow.alert.id": notification.id,
              },
            })
          : undefined;
        if (span) spans.push(span);
        const outgoing = notificationsFor(notification, span ? traceparentOf(span) : undefined);
        await trx
          .updateTable("alert_states")
          .set({
            firing: measurement.firing,
            value: measurement.value,
            since: at,
            ...(outgoing.length > 0 ? { last_notified_at: at } : {}),
          })
          .where("rule", "=", rule.name)
          .execute();
        transitions.push(notification);
        messages.push(...outgoing);
      }
      await appendToOutbox(trx, messages);
      return transitions;
    });
  }

  async function pass(): Promise<AlertPass> {
    if (!(await lead())) return { leading: false, measured: {}, transitions: [] };
    const measured = await measureAll();
    const transitions = await record(measured);
    for (const [rule, measurement] of measured) {
      metrics?.alertFiring.set({ rule: rule.name }, measurement.firing ? 1 : 0);
    }
    for (const t of transitions) {
      const fields = { rule: t.rule, value: t.value, threshold: t.threshold, severity: t.severity };
      if (t.status === "firing") logger.warn(fields, `alert firing: ${t.summary}`);
      else logger.info(fields, `alert resolved: ${t.summary}`);
    }
    return {
      leading: true,
      measured: Object.fromEntries([...measured].map(([rule, m]) => [rule.name, m])),
      transitions,
    };
  }

  async function countedPass(): Promise<AlertPass> {
    stats.inFlight = 1;
    try {
      const result = await pass();
      if (result.leading) stats.processed++;
      return result;
    } catch (error) {
      stats.failed++;
      throw error;
    } finally {
      stats.inFlight = 0;
    }
  }

  /** One pass at a time, whoever asks (the timer or a test). */
  function evaluate(): Promise<AlertPass> {
    const next = previous.then(countedPass, countedPass);
    previous = next.catch(() => {});
    return next;
  }

  function schedule() {
    timer = setTimeout(() => {
      evaluate()
        .catch((error: unknown) => logger.error({ err: error }, "alerts: pass failed"))
        .finally(() => {
          if (running) schedule();
        });
    }, intervalMs);
  }

  return {
    evaluate,
    /** A pass running now, passes that evaluated the rules, passes that failed. */
    get stats() {
      return { ...stats };
    },
    /** Passes every `intervalMs`; the first after one interval, so a fresh start's processes beat first. */
    start() {
      if (running) return;
      running = true;
      schedule();
    },
    /** Lets a pass in progress finish, then hands the lead to a standby. */
    async stop() {
      running = false;
      clearTimeout(timer);
      await previous;
      await lock?.release();
      lock = undefined;
    },
  };
}

export type AlertEvaluator = ReturnType<typeof createAlertEvaluator>;

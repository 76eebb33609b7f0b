import {
  ALERT_EMAIL_JOB,
  formatMoney,
  formatTimestamp,
  isAlertEmailData,
  isOrderConfirmationEmailData,
  type Mailer,
  MailRejected,
  ORDER_CONFIRMATION_EMAIL_JOB,
  renderEmail,
  WELCOME_EMAIL_JOB,
  type WelcomeEmailData,
} from "@taskflow/mail";
import {
  type JobProcessor,
  type JobQueue,
  type JobRun,
  PermanentJobError,
} from "@taskflow/messaging";
import {
  endSpan,
  failpoint,
  type Logger,
  type Metrics,
  startMessagingSpan,
  type Tracer,
  traceparentFrom,
} from "@taskflow/observability";

export interface MailerWorkerOptions {
  jobs: JobQueue;
  mailer: Mailer;
  /** The From header of every email. */
  from: string;
  /** Where links in emails point. */
  appUrl: string;
  concurrency: number;
  logger: Logger;
  metrics: Metrics;
  /** Tracing on: a CONSUMER span per job run, child of the job's trace context (its headers). */
  tracer?: Tracer | undefined;
}

/** A stable Message-ID per email: a resend after a crash carries the same one. */
export function messageIdFor(jobId: string, from: string): string {
  const domain = /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? "taskflow.local";
  return `<${jobId}@${domain}>`;
}

/** A measured value for people: whole numbers as they are, shares and seconds to 3 digits. */
function formatFigure(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(3)));
}

/**
 * Runs email jobs: renders the job's template and hands it to the mailer. A server that is
 * down or answers 4xx fails the attempt and the job queue retries it with backoff; a 5xx
 * (MailRejected) fails the job for good with the server's reason.
 */
export function createMailerWorker(options: MailerWorkerOptions) {
  const { jobs, mailer, logger, metrics } = options;
  const stats = { processed: 0, failed: 0 };
  let processor: JobProcessor | undefined;

  async function sendWelcome(job: JobRun) {
    const data = job.data as WelcomeEmailData;
    if (!data || typeof data.email !== "string" || typeof data.name !== "string") {
      throw new PermanentJobError("welcome email job without an email and a name");
    }
    const content = await renderEmail("welcome", {
      name: data.name,
      email: data.email,
      app_url: options.appUrl,
    });
    return mailer.send({
      messageId: messageIdFor(job.id, options.from),
      from: options.from,
      to: data.email,
      ...content,
    });
  }

  async function sendAlert(job: JobRun) {
    const data = job.data;
    if (!isAlertEmailData(data)) {
      throw new PermanentJobError("alert email job without a recipient, a rule and its figures");
    }
    const firing = data.status === "firing";
    const content = renderEmail("alert", {
      firing,
      status_label: firing ? "FIRING" : "RESOLVED",
      rule: data.rule,
      severity: data.severity,
      summary: data.summary,
      value: formatFigure(data.value),
      threshold: formatFigure(data.threshold),
      since: data.since,
      fired_at: data.fired_at ?? "",
      app_url: options.appUrl,
    });
    return mailer.send({
      messageId: messageIdFor(job.id, options.from),
      from: options.from,
      to: data.to,
      ...content,
    });
  }

  async function sendOrderConfirmation(job: JobRun) {
    const data = job.data;
    if (!isOrderConfirmationEmailData(data)) {
      throw new PermanentJobError("order confirmation job without a recipient and an order");
    }
    const content = renderEmail("order-confirmation", {
      name: data.name,
      order_id: data.order_id,
      created_at: formatTimestamp(data.created_at),
      items: data.items.map((line) => ({
        quantity: line.quantity,
        name: line.name,
        sku: line.sku,
        line_total: formatMoney(line.line_total_cents, data.currency),
      })),
      total: formatMoney(data.total_cents, data.currency),
      app_url: options.appUrl,
    });
    return mailer.send({
      messageId: messageIdFor(job.id, options.from),
      from: options.from,
      to: data.to,
      ...content,
    });
  }

  const handlers: Record<string, (job: JobRun) => Promise<unknown>> = {
    [WELCOME_EMAIL_JOB]: sendWelcome,
    [ALERT_EMAIL_JOB]: sendAlert,
    [ORDER_CONFIRMATION_EMAIL_JOB]: sendOrderConfirmation,
  };

  /** Without a tracer, exactly `run`. */
  function runTraced(job: JobRun): Promise<unknown> {
    const { tracer } = options;
    if (!tracer) return run(job);
    const span = startMessagingSpan(
      tracer,
      {
        system: jobs.engine === "redis" ? "bullmq" : "taskflow.embedded",
        destination: jobs.name,
        operation: "process",
        messageId: job.id,
      },
      {
        parent: traceparentFrom(job.headers),
        attributes: { "taskflow.job.name": job.name, "taskflow.job.attempt": job.attempt },
      },
    );
    return run(job).then(
      (sent) => {
        span.end();
        return sent;
      },
      (error: unknown) => {
        endSpan(span, error);
        throw error;
      },
    );
  }

  async function run(job: JobRun): Promise<unknown> {
    const handler = handlers[job.name];
    try {
      if (!handler) throw new PermanentJobError(`no handler for job "${job.name}"`);
      const sent = await handler(job);
      failpoint("mailer.after-send");
      stats.processed++;
      metrics.jobsFinished.inc({ name: job.name, outcome: "completed" });
      return sent;
    } catch (error) {
      const permanent = error instanceof PermanentJobError || error instanceof MailRejected;
      const last = permanent || job.attempt >= job.maxAttempts;
      stats.failed += last ? 1 : 0;
      metrics.jobsFinished.inc({ name: job.name, outcome: last ? "failed" : "retry" });
      logger.warn(
        { err: error, job: job.id, name: job.name, attempt: job.attempt, final: last },
        last ? "email job failed" : "email job attempt failed; it will be retried",
      );
      if (error instanceof MailRejected) {
        throw new PermanentJobError(`rejected by the mail server: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  return {
    async start() {
      processor = await jobs.process(runTraced, { concurrency: options.concurrency });
    },
    /** Takes no new jobs and lets the running ones finish (at most `timeoutMs`). */
    async stop(timeoutMs: number) {
      await processor?.close(timeoutMs);
    },
    get stats() {
      return { ...stats, inFlight: processor?.running ?? 0 };
    },
  };
}

export type MailerWorker = ReturnType<typeof createMailerWorker>;

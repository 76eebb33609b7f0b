import { createHash } from "node:crypto";
import type { NewJob } from "@taskflow/messaging";

/**
 * The alert email, as the alert evaluator writes it into the outbox in the transaction that
 * records the alert's transition (services/alerts). One job per recipient and transition: the
 * job id is the email's identity, so a second publication of the outbox row sends nothing.
 */
export const ALERT_EMAIL_JOB = "email.alert";

export interface AlertEmailData {
  /** The transition's identity, `<rule>.<firing|resolved>.<since, ms>`: the same in the webhook. */
  alert_id: string;
  to: string;
  rule: string;
  status: "firing" | "resolved";
  severity: string;
  summary: string;
  value: number;
  threshold: number;
  /** ISO time the new state began. */
  since: string;
  /** ISO time a resolved alert had begun firing; null while firing. */
  fired_at: string | null;
}

export function isAlertEmailData(value: unknown): value is AlertEmailData {
  if (!value || typeof value !== "object") return false;
  const data = value as Record<string, unknown>;
  return (
    typeof data.alert_id === "string" &&
    typeof data.to === "string" &&
    typeof data.rule === "string" &&
    (data.status === "firing" || data.status === "resolved") &&
    typeof data.severity === "string" &&
    typeof data.summary === "string" &&
    typeof data.value === "number" &&
    typeof data.threshold === "number" &&
    typeof data.since === "string"
  );
}

export function alertEmailJob(data: AlertEmailData): NewJob {
  return {
    name: ALERT_EMAIL_JOB,
    // The recipient as a digest: the job id becomes the Message-ID, where an "@" may not go.
    jobId: `${ALERT_EMAIL_JOB}.${data.alert_id}.${recipientKey(data.to)}`,
    data,
    // As the welcome email: an SMTP server may be down for a while (~17 minutes of retries).
    attempts: 10,
    backoffMs: 1_000,
    // Before the day's welcome emails in a busy queue.
    priority: 1,
  };
}

function recipientKey(email: string): string {
  return createHash("sha256").update(email.trim().toLowerCase()).digest("hex").slice(0, 16);
}

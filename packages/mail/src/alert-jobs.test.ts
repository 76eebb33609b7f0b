import { describe, expect, it } from "vitest";
import { type AlertEmailData, alertEmailJob, isAlertEmailData } from "./alert-jobs.ts";
import { renderEmail } from "./templates.ts";

const alert = {
  firing: true,
  status_label: "FIRING",
  rule: "dead_letters",
  severity: "warning",
  summary: 'payload "<b>x</b>" & more',
  value: "3",
  threshold: "0",
  since: "2026-11-23T12:00:00.000Z",
  fired_at: "",
  app_url: "https://taskflow.example",
} as const;

describe("the alert email", () => {
  it("renders a firing alert: one-line subject, plain text, escaped HTML", () => {
    const email = renderEmail("alert", { ...alert, summary: `${alert.summary}\r\nBcc: x@y` });
    expect(email.subject).toBe(
      '[TaskFlow warning] FIRING: dead_letters — payload "<b>x</b>" & more Bcc: x@y',
    );
    expect(email.text).toContain("Measured: 3 (threshold 0)");
    expect(email.text).toContain("Firing since 2026-11-23T12:00:00.000Z.");
    expect(email.text).not.toContain("Resolved");
    expect(email.html).toContain("&lt;b&gt;x&lt;&#x2F;b&gt;");
    expect(email.html).not.toContain("<b>x</b>");
    expect(email.html).not.toMatch(/\{\{|\}\}/);
  });

  it("renders a resolved alert with when it had begun firing", () => {
    const email = renderEmail("alert", {
      ...alert,
      firing: false,
      status_label: "RESOLVED",
      since: "2026-11-23T12:05:00.000Z",
      fired_at: "2026-11-23T12:00:00.000Z",
    });
    expect(email.subject).toMatch(/^\[TaskFlow warning\] RESOLVED: dead_letters/);
    expect(email.text).toContain(
      "Resolved at 2026-11-23T12:05:00.000Z; it had been firing since 2026-11-23T12:00:00.000Z.",
    );
    expect(email.html).not.toContain("Firing since");
  });

  it("makes one job per transition and recipient, with an id fit for a Message-ID", () => {
    const data: AlertEmailData = {
      alert_id: "dead_letters.firing.1795435200000",
      to: "Ops@Example.com",
      rule: "dead_letters",
      status: "firing",
      severity: "warning",
      summary: "3 dead letters",
      value: 3,
      threshold: 0,
      since: "2026-11-23T12:00:00.000Z",
      fired_at: null,
    };
    const job = alertEmailJob(data);
    expect(job.name).toBe("email.alert");
    expect(job.jobId).toMatch(/^email\.alert\.dead_letters\.firing\.1795435200000\.[0-9a-f]{16}$/);
    expect(alertEmailJob({ ...data, to: "ops@example.com" }).jobId).toBe(job.jobId);
    expect(alertEmailJob({ ...data, to: "oncall@example.com" }).jobId).not.toBe(job.jobId);
    expect(isAlertEmailData(job.data)).toBe(true);
    expect(isAlertEmailData({ ...data, status: "pending" })).toBe(false);
  });
});

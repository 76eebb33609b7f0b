import { type AlertEmailData, alertEmailJob } from "@taskflow/mail";
import { waitFor } from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";
import { messageIdFor } from "../src/index.ts";
import { startMailerOverSmtp } from "./mailer-fixture.ts";

/** The alert email job run by the mailer against a real SMTP server (smtp-server on loopback). */
describe("the mailer's alert email", async () => {
  const { smtp, jobs, stop } = await startMailerOverSmtp(
    "mailer.alerts",
    "TaskFlow <alerts@taskflow.example>",
  );
  afterAll(stop);

  const firing: AlertEmailData = {
    alert_id: "failure_rate.firing.1795435200000",
    to: "ops@example.com",
    rule: "failure_rate",
    status: "firing",
    severity: "critical",
    summary: "30% of the 20 tasks finished in the last 5 minutes failed (6); allowed: 20%",
    value: 0.3,
    threshold: 0.2,
    since: "2026-11-23T12:00:00.000Z",
    fired_at: null,
  };

  it("sends a firing alert: subject, figures, a link to the monitor, a Message-ID from the job id", async () => {
    const job = alertEmailJob(firing);
    await jobs.add([job]);
    const mail = await waitFor(() => smtp.received.find((m) => m.subject?.includes("FIRING")));

    expect(mail.subject).toBe(
      "[TaskFlow critical] FIRING: failure_rate — 30% of the 20 tasks finished in the last 5 minutes failed (6); allowed: 20%",
    );
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : "").toBe("ops@example.com");
    expect(mail.messageId).toBe(messageIdFor(job.jobId, "TaskFlow <alerts@taskflow.example>"));
    expect(mail.text).toContain("Measured: 0.3 (threshold 0.2)");
    expect(mail.text).toContain("Firing since 2026-11-23T12:00:00.000Z.");
    expect(mail.text).toContain("https://taskflow.example/api/monitor/queues");
    expect(mail.html).toContain("<strong>failure_rate</strong> (critical)");
    expect(mail.html).not.toContain("Resolved at");
  });

  it("sends a resolved alert with when it had begun firing", async () => {
    await jobs.add([
      alertEmailJob({
        ...firing,
        alert_id: "failure_rate.resolved.1795435500000",
        status: "resolved",
        value: 0.05,
        since: "2026-11-23T12:05:00.000Z",
        fired_at: firing.since,
      }),
    ]);
    const mail = await waitFor(() => smtp.received.find((m) => m.subject?.includes("RESOLVED")));
    expect(mail.text).toContain(
      "Resolved at 2026-11-23T12:05:00.000Z; it had been firing since 2026-11-23T12:00:00.000Z.",
    );
    expect(mail.html).not.toContain("Firing since");
  });

  it("fails a job whose data is not an alert for good, without sending", async () => {
    const before = smtp.received.length;
    await jobs.add([{ name: "email.alert", jobId: "email.alert.broken", data: { to: "x@y" } }]);
    await waitFor(async () => (await jobs.get("email.alert.broken"))?.state === "failed");
    expect((await jobs.get("email.alert.broken"))?.failedReason).toMatch(/alert email job without/);
    expect(smtp.received.length).toBe(before);
  });
});

import { orderConfirmationEmailJob } from "@taskflow/mail";
import { waitFor } from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";
import { startMailerOverSmtp } from "./mailer-fixture.ts";

/** The order confirmation job run by the mailer against a real SMTP server (smtp-server on loopback). */
describe("the mailer's order confirmation email", async () => {
  const { smtp, jobs, stop } = await startMailerOverSmtp(
    "mailer.orders",
    "TaskFlow <orders@taskflow.example>",
  );
  afterAll(stop);

  it("says when the order was placed in words, not as an ISO timestamp", async () => {
    const placedAt = "2026-11-23T10:05:09.123Z";
    await jobs.add([
      orderConfirmationEmailJob({
        order_id: "0193a1b2-0000-7000-8000-0000000000aa",
        to: "ann@example.com",
        name: "Ann",
        items: [{ sku: "KB-101", name: "Keyboard", quantity: 2, line_total_cents: 15_980 }],
        total_cents: 15_980,
        currency: "EUR",
        created_at: placedAt,
      }),
    ]);
    const mail = await waitFor(() => smtp.received.find((m) => m.subject?.includes("159.80 EUR")));

    expect(mail.text).toContain("Thank you for your order, placed 23 November 2026 at 10:05 UTC.");
    expect(mail.html).toContain("placed 23 November 2026 at 10:05 UTC.");
    for (const part of [mail.text, mail.html, mail.subject]) {
      expect(part).not.toContain(placedAt);
      expect(part).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
    }
    expect(mail.text).toContain("2 × Keyboard (KB-101)  159.80 EUR");
  });
});

import { describe, expect, it } from "vitest";
import { formatMoney, formatTimestamp, orderConfirmationEmailJob } from "./order-jobs.ts";
import { renderEmail } from "./templates.ts";

describe("the order confirmation email", () => {
  it("formats integer cents as money", () => {
    expect(formatMoney(0, "EUR")).toBe("0.00 EUR");
    expect(formatMoney(5, "EUR")).toBe("0.05 EUR");
    expect(formatMoney(123456789, "EUR")).toBe("1,234,567.89 EUR");
    expect(formatMoney(-250, "USD")).toBe("-2.50 USD");
  });

  it("formats the time an order was placed for people, in UTC and saying so", () => {
    expect(formatTimestamp("2026-11-23T10:05:09.123Z")).toBe("23 November 2026 at 10:05 UTC");
    expect(formatTimestamp("2027-01-01T00:00:00.000Z")).toBe("1 January 2027 at 00:00 UTC");
    // An offset is converted, not dropped.
    expect(formatTimestamp("2026-03-01T01:30:00+02:00")).toBe("28 February 2026 at 23:30 UTC");
    expect(formatTimestamp("not a time")).toBe("not a time");
  });

  it("is one job per order, whatever the delivery", () => {
    const data = {
      order_id: "o-1",
      to: "ann@example.com",
      name: "Ann",
      items: [],
      total_cents: 0,
      currency: "EUR",
      created_at: "2026-11-23T10:00:00.000Z",
    };
    expect(orderConfirmationEmailJob(data).jobId).toBe(orderConfirmationEmailJob(data).jobId);
    expect(orderConfirmationEmailJob({ ...data, order_id: "o-2" }).jobId).not.toBe(
      orderConfirmationEmailJob(data).jobId,
    );
  });

  it("renders every line and the total, escaped in HTML", () => {
    const email = renderEmail("order-confirmation", {
      name: "Ann & Co",
      order_id: "0193-abc",
      created_at: "23 November 2026 at 10:00 UTC",
      items: [
        { quantity: 2, name: "Keyboard <b>", sku: "KB-101", line_total: "159.80 EUR" },
        { quantity: 1, name: "Mouse", sku: "MS-201", line_total: "24.90 EUR" },
      ],
      total: "184.70 EUR",
      app_url: "https://taskflow.example/",
    });
    expect(email.subject).toBe("Your TaskFlow order is confirmed (184.70 EUR)");
    expect(email.text).toContain("2 × Keyboard <b> (KB-101)  159.80 EUR");
    expect(email.text).toContain("1 × Mouse (MS-201)  24.90 EUR");
    expect(email.text).toContain("Total: 184.70 EUR");
    expect(email.text).toContain("placed 23 November 2026 at 10:00 UTC.");
    expect(email.html).toContain("Keyboard &lt;b&gt;");
    expect(email.html).toContain("Ann &amp; Co");
    expect(email.html).not.toMatch(/\{\{|\}\}/);
  });
});

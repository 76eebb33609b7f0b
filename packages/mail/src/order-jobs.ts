import type { NewJob } from "@taskflow/messaging";

/**
 * The order confirmation email, as the notifier writes it into the outbox in the transaction
 * that records the order's notification. The order id is the email's identity: one
 * confirmation per order, however often its event is delivered.
 */
export const ORDER_CONFIRMATION_EMAIL_JOB = "email.order-confirmation";

export interface OrderConfirmationEmailData {
  order_id: string;
  to: string;
  name: string;
  items: { sku: string; name: string; quantity: number; line_total_cents: number }[];
  total_cents: number;
  currency: string;
  /** ISO time the order was placed. */
  created_at: string;
}

export function isOrderConfirmationEmailData(value: unknown): value is OrderConfirmationEmailData {
  if (!value || typeof value !== "object") return false;
  const data = value as Record<string, unknown>;
  return (
    typeof data.order_id === "string" &&
    typeof data.to === "string" &&
    typeof data.name === "string" &&
    Array.isArray(data.items) &&
    typeof data.total_cents === "number" &&
    typeof data.currency === "string" &&
    typeof data.created_at === "string"
  );
}

export function orderConfirmationEmailJob(data: OrderConfirmationEmailData): NewJob {
  return {
    name: ORDER_CONFIRMATION_EMAIL_JOB,
    jobId: `${ORDER_CONFIRMATION_EMAIL_JOB}.${data.order_id}`,
    data,
    // As the welcome email: an SMTP server may be down for a while (~17 minutes of retries).
    attempts: 10,
    backoffMs: 1_000,
    // A customer is waiting for this one: before the welcome emails in a busy queue.
    priority: 2,
  };
}

/** Integer cents as money for people: 123456 EUR → "1,234.56 EUR". */
export function formatMoney(cents: number, currency: string): string {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const units = Math.floor(abs / 100).toLocaleString("en-US");
  return `${sign}${units}.${String(abs % 100).padStart(2, "0")} ${currency}`;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
] as const;

/**
 * An ISO time for people: "2026-11-23T10:05:00.000Z" → "23 November 2026 at 10:05 UTC". In UTC,
 * said so, because a recipient's time zone is not known; spelled out rather than left to
 * Intl, whose wording changes with the ICU version. Text that is not a time comes back as is.
 */
export function formatTimestamp(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  const month = MONTHS[date.getUTCMonth()] ?? "";
  return `${date.getUTCDate()} ${month} ${date.getUTCFullYear()} at ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
}

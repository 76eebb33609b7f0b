import type { OutboxRow } from "@taskflow/db";

/** The outbox destination of alert webhooks: the row's payload is the JSON to POST. */
export const ALERT_WEBHOOK_DESTINATION = "alert-webhook";

/** The relay's publisher signature (services/relay OutboxPublisher). */
export type AlertWebhookPublisher = (rows: readonly OutboxRow[]) => Promise<void>;

export class AlertWebhookError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "AlertWebhookError";
  }
}

/**
 * Publishes alert-webhook outbox rows: POSTs each row's payload as JSON to `url`, in row order
 * (a rule's "firing" before its "resolved"), with the row's headers. Anything but a 2xx within
 * the timeout throws, so the relay keeps the rows and tries again; a receiver may therefore
 * see a notification twice and should deduplicate on its `id` (also the Idempotency-Key header).
 */
export function alertWebhookPublisher(
  url: string,
  options: { timeoutMs?: number } = {},
): AlertWebhookPublisher {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return async (rows) => {
    for (const row of rows) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: {
            ...row.headers,
            "content-type": "application/json",
            "user-agent": "taskflow-alerts",
          },
          body: JSON.stringify(row.payload),
          signal: AbortSignal.timeout(timeoutMs),
          // A redirect is not followed: a 301/302 would turn the POST into a GET without a body.
          redirect: "manual",
        });
      } catch (error) {
        throw new AlertWebhookError(
          `alert webhook unreachable: ${(error as Error).message}`,
          undefined,
          {
            cause: error,
          },
        );
      }
      // Read the answer through, so the connection can be reused.
      const answer = await response.text().catch(() => "");
      if (!response.ok) {
        throw new AlertWebhookError(
          `alert webhook answered ${response.status}: ${answer.slice(0, 200)}`,
          response.status,
        );
      }
    }
  };
}

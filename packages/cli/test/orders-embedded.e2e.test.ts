import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { killAllRoles, signUp, startRole, uniqueName, waitFor } from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";

/**
 * Orders under `taskflow start` with nothing installed: the API asks the in-process
 * validator over gRPC on loopback, stores the order, and the relay, the event bus, the
 * notifier and the mailer (embedded sink) turn each valid order into exactly one
 * notification and one confirmation email.
 */
const folders: string[] = [];
afterAll(async () => {
  await killAllRoles();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

interface Page<T> {
  items: T[];
}

describe("orders on `taskflow start`", () => {
  it("when 20 orders are placed, 5 of them invalid in different ways, then each valid one makes exactly one notification and one confirmation email, and no invalid one anything", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "taskflow-orders-e2e-"));
    folders.push(dataDir);
    const taskflow = await startRole(
      "start",
      {
        TASKFLOW_DATA_DIR: dataDir,
        TASKFLOW_TASK_QUEUE: uniqueName("e2e.orders"),
        TASKFLOW_LOG_LEVEL: "warn",
        TASKFLOW_LOGIN_RATE_LIMIT: "1000",
      },
      { readyTimeoutMs: 150_000 },
    );
    const { client, credentials } = await signUp(taskflow.url);
    const products = await client.request<{ sku: string; price_cents: number }[]>(
      "GET",
      "/api/products",
    );
    expect(products.status).toBe(200);
    const price = new Map(products.body.map((p) => [p.sku, p.price_cents]));

    const invalid = [
      { items: [{ sku: "NOPE-404", quantity: 1 }] },
      { items: [{ sku: "KB-101", quantity: 0 }] },
      { items: [{ sku: "LT-LED", quantity: 500 }] },
      { items: [] },
      { items: [{ sku: "KB-101", quantity: 1001 }] },
    ];
    const valid = Array.from({ length: 15 }, (_, i) => ({
      items: [
        { sku: "MS-201", quantity: 1 + (i % 3) },
        { sku: "CB-USB", quantity: 1 },
      ],
    }));
    let expectedTotal = 0;
    const placed: string[] = [];
    for (const order of [...valid, ...invalid]) {
      const answer = await client.request<{ id: string; total_cents: number }>(
        "POST",
        "/api/orders",
        order,
      );
      if (valid.includes(order as (typeof valid)[number])) {
        expect(answer.status).toBe(201);
        placed.push(answer.body.id);
        const want = order.items.reduce((sum, l) => sum + (price.get(l.sku) ?? 0) * l.quantity, 0);
        expect(answer.body.total_cents).toBe(want);
        expectedTotal += want;
      } else {
        expect(answer.status).toBe(422);
      }
    }
    expect(placed).toHaveLength(15);

    const notifications = await waitFor(
      async () => {
        const page = await client.request<
          Page<{ data: { order_id: string; total_cents: number } }> & { unread_count: number }
        >("GET", "/api/notifications?limit=100");
        return page.body.items.length >= 15 ? page.body : undefined;
      },
      { timeoutMs: 60_000, what: "15 notifications" },
    );
    expect(notifications.unread_count).toBe(15);
    expect(notifications.items.map((n) => n.data.order_id).sort()).toEqual([...placed].sort());
    expect(notifications.items.reduce((sum, n) => sum + n.data.total_cents, 0)).toBe(expectedTotal);

    const confirmations = await waitFor(
      async () => {
        const mail = await client.request<
          Page<{ to: string; subject: string; message_id: string }>
        >("GET", "/api/dev/mail?limit=100");
        const found = mail.body.items.filter((m) => m.subject.startsWith("Your TaskFlow order"));
        return found.length >= 15 ? found : undefined;
      },
      { timeoutMs: 60_000, what: "15 confirmation emails" },
    );
    expect(confirmations.every((m) => m.to === credentials.email)).toBe(true);
    expect(new Set(confirmations.map((m) => m.message_id)).size).toBe(15);
    // Nothing more arrives: no duplicate, nothing for the invalid orders.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const again = await client.request<Page<unknown>>("GET", "/api/notifications?limit=100");
    expect(again.body.items).toHaveLength(15);

    const firstId = notifications.items[0] as unknown as { id: string };
    const read = await client.request<{ read: boolean }>(
      "POST",
      `/api/notifications/${firstId.id}/read`,
    );
    expect(read.body.read).toBe(true);
    await taskflow.stop();
  }, 300_000);
});

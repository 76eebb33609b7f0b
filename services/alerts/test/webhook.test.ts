import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { OutboxRow } from "@taskflow/db";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  ALERT_WEBHOOK_DESTINATION,
  AlertWebhookError,
  alertWebhookPublisher,
} from "../src/index.ts";

interface Received {
  method: string | undefined;
  path: string | undefined;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A real HTTP receiver on loopback: answers each request with the next status in `answers`. */
async function startReceiver() {
  const received: Received[] = [];
  const answers: number[] = [];
  let hang = false;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
      });
      if (hang) return;
      const status = answers.shift() ?? 200;
      res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "nope");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/taskflow?token=t0k3n`,
    received,
    answers,
    set hang(value: boolean) {
      hang = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let nextId = 1;
function row(payload: Record<string, unknown>, headers: Record<string, string> = {}): OutboxRow {
  return {
    id: nextId++,
    destination: ALERT_WEBHOOK_DESTINATION,
    message_key: String(payload.rule),
    payload,
    headers,
    available_at: new Date(),
    created_at: new Date(),
  };
}

describe("alertWebhookPublisher", async () => {
  const receiver = await startReceiver();
  afterAll(() => receiver.close());
  beforeEach(() => {
    receiver.received.length = 0;
    receiver.answers.length = 0;
    receiver.hang = false;
  });

  const firing = {
    id: "dead_letters.firing.1795435200000",
    source: "taskflow",
    rule: "dead_letters",
    status: "firing",
    severity: "warning",
    summary: "3 dead letters (2 task messages, 1 failed jobs); allowed: 0",
    value: 3,
    threshold: 0,
    since: "2026-11-23T12:00:00.000Z",
    fired_at: null,
  };
  const resolved = {
    ...firing,
    id: "dead_letters.resolved.1795435500000",
    status: "resolved",
    since: "2026-11-23T12:05:00.000Z",
    fired_at: firing.since,
  };

  it("POSTs each row's payload as JSON, in order, with the row's headers", async () => {
    const publish = alertWebhookPublisher(receiver.url);
    await publish([row(firing, { "idempotency-key": firing.id }), row(resolved)]);

    expect(receiver.received.map((r) => r.body)).toEqual([firing, resolved]);
    const [first] = receiver.received;
    expect(first?.method).toBe("POST");
    expect(first?.path).toBe("/hooks/taskflow?token=t0k3n");
    expect(first?.headers["content-type"]).toBe("application/json");
    expect(first?.headers["idempotency-key"]).toBe(firing.id);
    expect(first?.headers["user-agent"]).toBe("taskflow-alerts");
  });

  it("throws on a 500, so the relay keeps the rows and tries again", async () => {
    receiver.answers.push(500);
    const publish = alertWebhookPublisher(receiver.url);
    const attempt = publish([row(firing), row(resolved)]);
    await expect(attempt).rejects.toThrow(AlertWebhookError);
    await expect(attempt).rejects.toMatchObject({ status: 500 });
    // It stopped at the refused one: the resolved alert is not sent before the firing one.
    expect(receiver.received).toHaveLength(1);

    await publish([row(firing), row(resolved)]);
    expect(receiver.received.map((r) => (r.body as { status: string }).status)).toEqual([
      "firing",
      "firing",
      "resolved",
    ]);
  });

  it("throws on any other non-2xx answer too: a 404, a redirect (not followed)", async () => {
    receiver.answers.push(404, 302);
    const publish = alertWebhookPublisher(receiver.url);
    await expect(publish([row(firing)])).rejects.toThrow(/answered 404/);
    await expect(publish([row(firing)])).rejects.toThrow(/answered 302/);
    expect(receiver.received).toHaveLength(2);
  });

  it("gives up on a receiver that does not answer within the timeout", async () => {
    receiver.hang = true;
    const started = Date.now();
    await expect(
      alertWebhookPublisher(receiver.url, { timeoutMs: 200 })([row(firing)]),
    ).rejects.toThrow(/unreachable/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("throws when nothing listens, without the URL (it may hold a token) in the message", async () => {
    const closed = await startReceiver();
    await closed.close();
    const attempt = alertWebhookPublisher(closed.url)([row(firing)]);
    await expect(attempt).rejects.toThrow(AlertWebhookError);
    await expect(attempt).rejects.not.toThrow(/t0k3n/);
  });
});

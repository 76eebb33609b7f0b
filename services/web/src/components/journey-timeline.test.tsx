import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { aTask, fakeApi, json, problem } from "../test-support/fake-api.ts";
import { renderApp } from "../test-support/render-app.tsx";
import type { Journey } from "./journey-timeline.tsx";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const ORDER_ID = "0190a000-0000-7000-8000-0000c0ffee01";

function hop(service: string, step: string, second: number, duration_ms: number | null) {
  return {
    service,
    step,
    at: new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString(),
    duration_ms,
    trace_id: TRACE,
  };
}

function journeyItems(): HTMLElement[] {
  return within(screen.getByRole("list", { name: "Journey through the services" })).getAllByRole(
    "listitem",
  );
}

describe("the journey timeline", () => {
  it("when a task has run, then its detail page lists every hop with its service, step and duration, and the trace id", async () => {
    const api = fakeApi({ signedIn: true });
    const task = aTask({ status: "DONE", attempts: 1, type: "echo" });
    const journey: Journey = {
      id: task.id,
      trace_id: TRACE,
      hops: [
        hop("api", "accepted: task and its queue message stored", 1, 0),
        hop("relay", "queued: outbox → task queue → a worker's claim", 1, 42),
        hop("worker", "attempt 1", 2, 1_500),
        hop("worker", "done", 3, 0),
        hop("analytics", "counted task.done", 3, 120),
      ],
    };
    api.on("GET", "/api/tasks/:id/journey", () => json(journey));
    api.on("GET", "/api/tasks/:id", () => json(task));
    renderApp(`/tasks/${task.id}`, { signedIn: true });

    await screen.findByRole("heading", { name: "Journey" });
    await waitFor(() => expect(journeyItems()).toHaveLength(5));
    const texts = journeyItems().map((li) => li.textContent ?? "");
    expect(texts[0]).toContain("api");
    expect(texts[1]).toContain("42 ms");
    expect(texts[2]).toContain("worker");
    expect(texts[2]).toContain("1.5 s");
    expect(texts[4]).toContain("analytics");
    expect(screen.getByText(TRACE)).toBeDefined();
    expect(api.requestsTo("GET", `/api/tasks/${task.id}/journey`)).toHaveLength(1);
  });

  it("when an order is opened, then its journey shows the validator, notifier, mailer and analytics, and can be refreshed", async () => {
    const api = fakeApi({ signedIn: true });
    api.on("GET", "/api/orders/:id", () =>
      json({
        id: ORDER_ID,
        status: "CONFIRMED",
        items: [
          {
            sku: "KB-101",
            name: "Keyboard",
            quantity: 1,
            unit_price_cents: 8_999,
            line_total_cents: 8_999,
          },
        ],
        total_cents: 8_999,
        currency: "EUR",
        note: null,
        created_at: "2026-01-01T12:00:00.000Z",
      }),
    );
    let calls = 0;
    api.on("GET", "/api/orders/:id/journey", () => {
      calls += 1;
      const hops = [
        hop("validator", "validated and priced (gRPC)", 0, 12),
        hop("api", "stored: order and its order.created event", 0, 0),
        hop("notifier", "notification made (relay → event bus → notifier)", 0, 80),
        hop("mailer", "confirmation email running", 1, null),
      ];
      if (calls > 1) hops.push(hop("analytics", "counted order.created", 0, 95));
      return json({ id: ORDER_ID, trace_id: TRACE, hops });
    });
    renderApp(`/orders/${ORDER_ID}`, { signedIn: true });

    await waitFor(() => expect(journeyItems()).toHaveLength(4));
    const texts = journeyItems().map((li) => li.textContent ?? "");
    expect(texts[0]).toContain("validator");
    expect(texts[0]).toContain("12 ms");
    expect(texts[3]).toContain("still running");

    await userEvent.click(screen.getByRole("button", { name: "Refresh journey" }));
    await waitFor(() => expect(journeyItems()).toHaveLength(5));
    expect(journeyItems()[4]?.textContent).toContain("analytics");
  });

  it("when the journey cannot be read, then the order page still shows the order and says so", async () => {
    const api = fakeApi({ signedIn: true });
    api.on("GET", "/api/orders/:id", () =>
      json({
        id: ORDER_ID,
        status: "CONFIRMED",
        items: [],
        total_cents: 0,
        currency: "EUR",
        note: null,
        created_at: "2026-01-01T12:00:00.000Z",
      }),
    );
    api.on("GET", "/api/orders/:id/journey", () => problem(503, "database away"));
    renderApp(`/orders/${ORDER_ID}`, { signedIn: true });

    expect(await screen.findByText("The journey could not be loaded.")).toBeDefined();
    expect(screen.getByRole("heading", { name: /Order/ })).toBeDefined();
  });
});

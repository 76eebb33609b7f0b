import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { fakeApi, json, problem } from "../../test-support/fake-api.ts";
import { renderApp } from "../../test-support/render-app.tsx";
import type { AnalyticsSummary } from "./analytics.page.tsx";

function aSummary(): AnalyticsSummary {
  const minutes = [
    "2026-01-01T12:00:00.000Z",
    "2026-01-01T12:01:00.000Z",
    "2026-01-01T12:02:00.000Z",
  ];
  return {
    window: { minutes: 3, from: minutes[0] ?? "", to: "2026-01-01T12:03:00.000Z" },
    orders: {
      count: 5,
      revenue_cents: { EUR: 25_000 },
      per_minute: [
        { minute: minutes[0] ?? "", count: 1, revenue_cents: { EUR: 5_000 } },
        { minute: minutes[1] ?? "", count: 0, revenue_cents: {} },
        { minute: minutes[2] ?? "", count: 4, revenue_cents: { EUR: 20_000 } },
      ],
    },
    top_products: [
      { sku: "KB-101", name: "Keyboard", currency: "EUR", quantity: 4, revenue_cents: 35_996 },
    ],
    tasks: {
      completed: 7,
      failed: 1,
      p50_ms: 850,
      p95_ms: 12_300,
      per_minute: [
        { minute: minutes[0] ?? "", completed: 2, failed: 0, p50_ms: 800, p95_ms: 1_200 },
        { minute: minutes[1] ?? "", completed: 0, failed: 1, p50_ms: null, p95_ms: null },
        { minute: minutes[2] ?? "", completed: 5, failed: 0, p50_ms: 900, p95_ms: 12_300 },
      ],
    },
  };
}

describe("the analytics page", () => {
  it("when the API answers 403, then it says analytics are for operators only", async () => {
    const api = fakeApi({ signedIn: true });
    api.on("GET", "/api/analytics/summary", () =>
      problem(403, "analytics are for operators (TASKFLOW_ADMIN_EMAILS)"),
    );
    renderApp("/analytics", { signedIn: true });

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Analytics are for operators only.");
    expect(screen.getByRole("heading", { level: 1, name: "Analytics" })).toBeDefined();
    expect(screen.queryByRole("button", { name: "Refresh" })).toBeNull();
    // Not operators: the navigation does not offer it either.
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).queryByRole("link", { name: "Analytics" })).toBeNull();
    expect(api.requestsTo("GET", "/api/analytics/summary")).toHaveLength(1);
  });

  it("charts orders, revenue and tasks per minute with text for screen readers, and refreshes", async () => {
    const api = fakeApi({ signedIn: true, operator: true });
    api.on("GET", "/api/analytics/summary", () => json(aSummary()));
    renderApp("/analytics", { signedIn: true });

    const orders = await screen.findByRole("img", { name: /^Orders per minute/ });
    expect(orders.getAttribute("aria-label")).toMatch(/Orders: 5 in all, at most 4 \(/);
    const tasks = screen.getByRole("img", { name: /^Tasks finished per minute/ });
    expect(tasks.getAttribute("aria-label")).toMatch(/Completed: 7 in all.*Failed: 1 in all/);
    expect(
      screen.getByRole("img", { name: /^Time to done per minute/ }).getAttribute("aria-label"),
    ).toMatch(/p95: from 1\.2 s to 12\.3 s/);
    expect(screen.getByRole("img", { name: /^Revenue per minute/ })).toBeDefined();
    // Each chart is a figure named by what it shows, around its image.
    const figures = screen.getAllByRole("figure");
    expect(figures.map((f) => f.getAttribute("aria-label"))).toEqual([
      "Orders per minute",
      "Revenue per minute",
      "Tasks finished per minute",
      "Time to done per minute",
    ]);
    expect(within(screen.getByRole("figure", { name: "Orders per minute" })).getByRole("img")).toBe(
      orders,
    );
    // No chart graphic is left without a name: every SVG is a named image, or hidden decoration.
    const main = screen.getByRole("main");
    const svgs = [...main.querySelectorAll("svg")];
    expect(svgs.length).toBeGreaterThanOrEqual(4);
    for (const svg of svgs) {
      if (svg.getAttribute("aria-hidden") === "true") continue;
      expect(svg.getAttribute("role")).toBe("img");
      expect(svg.getAttribute("aria-label")?.trim()).toBeTruthy();
    }
    expect(screen.getByText("850 ms")).toBeDefined();
    const top = screen.getByRole("table", { name: "Top products by units sold, then revenue" });
    expect(within(top).getByRole("rowheader", { name: /Keyboard/ })).toBeDefined();

    // The numbers as a table, on demand.
    await userEvent.click(screen.getByText("Show orders per minute as a table"));
    const table = await screen.findByRole("table", { name: "Orders per minute" });
    expect(within(table).getAllByRole("row")).toHaveLength(4);

    // Operators see it in the navigation (GET /api/auth/me says operator).
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "Analytics" })).toBeDefined();
    expect(within(nav).getByRole("link", { name: "Monitor" })).toBeDefined();

    await userEvent.click(screen.getByRole("button", { name: "Refresh" }));
    await waitFor(() => expect(api.requestsTo("GET", "/api/analytics/summary")).toHaveLength(2));
    expect(api.requestsTo("GET", "/api/analytics/summary")[0]?.query.get("minutes")).toBe("60");
    expect(screen.getByRole("checkbox", { name: "Auto-refresh every 10 s" })).toHaveProperty(
      "checked",
      true,
    );
  });

  it("shows empty charts as such, and an error with a way to try again", async () => {
    const api = fakeApi({ signedIn: true, operator: true });
    const empty = aSummary();
    empty.orders = {
      count: 0,
      revenue_cents: {},
      per_minute: empty.orders.per_minute.map((m) => ({ ...m, count: 0, revenue_cents: {} })),
    };
    empty.top_products = [];
    let fail = true;
    api.on("GET", "/api/analytics/summary", () =>
      fail ? problem(503, "analytics store unavailable") : json(empty),
    );
    renderApp("/analytics", { signedIn: true });

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Analytics unavailable.");
    fail = false;
    await userEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("No orders in this window.")).toBeDefined();
    expect(screen.getByText("No revenue in this window.")).toBeDefined();
    expect(screen.getByText("No products sold in this window.")).toBeDefined();
  });
});

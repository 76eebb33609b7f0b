import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { emptyStats, fakeApi, json, problem } from "../../test-support/fake-api.ts";
import { renderApp } from "../../test-support/render-app.tsx";
import type { Notification } from "./notifications.api.ts";

let counter = 0;

function aNotification(overrides: Partial<Notification> = {}): Notification {
  counter += 1;
  return {
    id: `0190a000-0000-7000-8000-${String(counter).padStart(12, "0")}`,
    kind: "order.confirmed",
    title: `Order confirmed ${counter}`,
    body: "2 items, €179.98",
    data: { order_id: "0190a000-0000-7000-8000-0000c0ffee01", total_cents: 17_998 },
    read: false,
    created_at: new Date(Date.UTC(2026, 0, 1, 12, 0, counter)).toISOString(),
    ...overrides,
  };
}

describe("the notifications bell", () => {
  it("shows the unread count, and counts up live on notification.created", async () => {
    const api = fakeApi({ signedIn: true });
    api.on("GET", "/api/notifications", () =>
      json({ items: [aNotification()], next_cursor: null, unread_count: 2 }),
    );
    api.on("GET", "/api/tasks", () => json({ items: [], next_cursor: null }));
    api.on("GET", "/api/tasks/stats", () => json(emptyStats()));
    renderApp("/tasks", { signedIn: true });

    const bell = await screen.findByRole("link", { name: "Notifications, 2 unread" });
    expect(within(bell).getByTestId("unread-count").textContent).toBe("2");

    const stream = await api.eventStream();
    stream.send("notification.created", {
      id: "n-3",
      kind: "order.confirmed",
      title: "Order confirmed",
    });

    expect(await screen.findByRole("link", { name: "Notifications, 3 unread" })).toBe(bell);
    expect(screen.getByText("New notification: Order confirmed")).toBeDefined();
    // The bell asked once; the event alone moved it.
    expect(api.requestsTo("GET", "/api/notifications")).toHaveLength(1);
  });

  it("says no number when there is nothing unread", async () => {
    const api = fakeApi({ signedIn: true });
    api.on("GET", "/api/tasks", () => json({ items: [], next_cursor: null }));
    api.on("GET", "/api/tasks/stats", () => json(emptyStats()));
    renderApp("/tasks", { signedIn: true });
    await waitFor(() => expect(api.requestsTo("GET", "/api/notifications")).toHaveLength(1));
    expect(screen.getByRole("link", { name: "Notifications" })).toBeDefined();
    expect(screen.queryByTestId("unread-count")).toBeNull();
  });
});

describe("the notifications page", () => {
  it("lists them, marks one read (the bell counts down), and filters the unread ones", async () => {
    const api = fakeApi({ signedIn: true });
    const unread = aNotification({ title: "Order confirmed" });
    const read = aNotification({ title: "Welcome", kind: "welcome", data: {}, read: true });
    let unreadCount = 1;
    api.on("GET", "/api/notifications", (request) =>
      json({
        items: request.query.get("unread") === "true" ? [] : [unread, read],
        next_cursor: null,
        unread_count: unreadCount,
      }),
    );
    api.on("POST", "/api/notifications/:id/read", () => {
      unreadCount = 0;
      return json({ ...unread, read: true });
    });
    renderApp("/notifications", { signedIn: true });

    const list = await screen.findByRole("list", { name: "Notifications, newest first" });
    const [first, second] = within(list).getAllByRole("listitem");
    if (!first || !second) throw new Error("two notifications expected");
    expect(within(first).getByText("Unread")).toBeDefined();
    expect(within(first).getByRole("link", { name: "View order" }).getAttribute("href")).toBe(
      "/orders/0190a000-0000-7000-8000-0000c0ffee01",
    );
    expect(within(second).queryByRole("button")).toBeNull();
    expect(await screen.findByRole("link", { name: "Notifications, 1 unread" })).toBeDefined();

    await userEvent.click(
      within(first).getByRole("button", { name: "Mark read: Order confirmed" }),
    );

    expect(await screen.findByText("“Order confirmed” marked read.")).toBeDefined();
    expect(within(first).queryByText("Unread")).toBeNull();
    expect(screen.getByRole("link", { name: "Notifications" })).toBeDefined();
    // Its button is gone: focus is on the notification.
    expect(document.activeElement?.textContent).toContain("Order confirmed");
    expect(api.requestsTo("POST", `/api/notifications/${unread.id}/read`)).toHaveLength(1);

    await userEvent.click(screen.getByRole("checkbox", { name: "Unread only" }));
    expect(await screen.findByText("No unread notifications.")).toBeDefined();
    expect(
      api.requests.some((r) => r.path === "/api/notifications" && r.query.get("unread") === "true"),
    ).toBe(true);
  });

  it("shows new ones live at the top, and an error with a way to try again", async () => {
    const api = fakeApi({ signedIn: true });
    const old = aNotification({ title: "Old news" });
    const fresh = aNotification({ title: "Fresh news" });
    let items: Notification[] = [old];
    let fail = true;
    api.on("GET", "/api/notifications", (request) => {
      // The bell's count (limit 1) always works; the page's list fails first.
      if (fail && request.query.get("limit") !== "1") return problem(500, "boom");
      return json({ items, next_cursor: null, unread_count: items.length });
    });
    renderApp("/notifications", { signedIn: true });

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Notifications unavailable.");
    fail = false;
    await userEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("Old news")).toBeDefined();

    items = [fresh, old];
    (await api.eventStream()).send("notification.created", {
      id: fresh.id,
      kind: fresh.kind,
      title: fresh.title,
    });
    expect(await screen.findByText("Fresh news")).toBeDefined();
    const titles = within(screen.getByRole("list", { name: "Notifications, newest first" }))
      .getAllByRole("listitem")
      .map((li) => li.querySelector(".notification-title")?.textContent?.trim());
    expect(titles).toEqual(["Unread Fresh news", "Unread Old news"]);
  });
});

import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Task } from "../../api/client.ts";
import { aTask, emptyStats, fakeApi, json, problem } from "../../test-support/fake-api.ts";
import { renderApp } from "../../test-support/render-app.tsx";

function rowOf(task: Task): HTMLElement {
  const row = document.querySelector<HTMLElement>(`tr[data-task-id="${task.id}"]`);
  if (!row) throw new Error(`no row for ${task.id}`);
  return row;
}

describe("the tasks page", () => {
  it("when a task.updated event arrives, then its row and the counts change without a reload", async () => {
    const api = fakeApi({ signedIn: true });
    const older = aTask({ title: "nap" });
    const newer = aTask({ title: "hash it", type: "hash", status: "PROCESSING" });
    let stats = { ...emptyStats(), PENDING: 1, PROCESSING: 1 };
    api.on("GET", "/api/tasks", () => json({ items: [newer, older], next_cursor: null }));
    api.on("GET", "/api/tasks/stats", () => json(stats));
    renderApp("/tasks", { signedIn: true });

    expect(await screen.findByRole("link", { name: "nap" })).toBeDefined();
    expect(within(rowOf(older)).getByText("Pending")).toBeDefined();
    expect(screen.getByTestId("count-DONE").textContent).toBe("0");

    stats = { ...emptyStats(), PENDING: 1, DONE: 1 };
    (await api.eventStream()).send("task.updated", { id: newer.id, status: "DONE" });

    await waitFor(() => expect(within(rowOf(newer)).getByText("Done")).toBeDefined());
    await waitFor(() => expect(screen.getByTestId("count-DONE").textContent).toBe("1"));
    expect(screen.getByTestId("count-PROCESSING").textContent).toBe("0");
    // The event named a task the list had: no extra read of it.
    expect(api.requestsTo("GET", `/api/tasks/${newer.id}`)).toHaveLength(0);
    expect(api.requestsTo("GET", "/api/events")[0]?.headers.get("authorization")).toBe(
      "Bearer test-token",
    );
  });

  it("when an event names a task the list has not seen, then it is read and shown at the top", async () => {
    const api = fakeApi({ signedIn: true });
    const known = aTask({ title: "old" });
    const fresh = aTask({ title: "from a schedule" });
    api.on("GET", "/api/tasks", () => json({ items: [known], next_cursor: null }));
    api.on("GET", "/api/tasks/stats", () => json(emptyStats()));
    api.on("GET", "/api/tasks/:id", () => json(fresh));
    renderApp("/tasks", { signedIn: true });
    await screen.findByRole("link", { name: "old" });

    (await api.eventStream()).send("task.updated", { id: fresh.id, status: "PENDING" });

    expect(await screen.findByRole("link", { name: "from a schedule" })).toBeDefined();
    const names = screen
      .getAllByRole("link", { name: /old|from a schedule/ })
      .map((a) => a.textContent);
    expect(names).toEqual(["from a schedule", "old"]);
  });

  it("when filtered by status, then a task that leaves that status leaves the list", async () => {
    const api = fakeApi({ signedIn: true });
    const waiting = aTask({ title: "waiting", status: "PENDING" });
    api.on("GET", "/api/tasks", (request) =>
      json({
        items: request.query.get("status") === "PENDING" ? [waiting] : [],
        next_cursor: null,
      }),
    );
    api.on("GET", "/api/tasks/stats", () => json({ ...emptyStats(), PENDING: 1 }));
    renderApp("/tasks?status=PENDING", { signedIn: true });
    await screen.findByRole("link", { name: "waiting" });

    (await api.eventStream()).send("task.updated", { id: waiting.id, status: "PROCESSING" });

    expect(await screen.findByText("No pending tasks.")).toBeDefined();
  });

  it("pages with Load more, and cancels a pending task", async () => {
    const api = fakeApi({ signedIn: true });
    const first = aTask({ title: "second page" });
    const second = aTask({ title: "first page" });
    api.on("GET", "/api/tasks", (request) =>
      request.query.get("cursor") === "c1"
        ? json({ items: [first], next_cursor: null })
        : json({ items: [second], next_cursor: "c1" }),
    );
    api.on("GET", "/api/tasks/stats", () => json({ ...emptyStats(), PENDING: 2 }));
    api.on("POST", "/api/tasks/:id/cancel", () => json({ ...first, status: "CANCELLED" }));
    renderApp("/tasks", { signedIn: true });

    await userEvent.click(await screen.findByRole("button", { name: "Load more" }));
    expect(await screen.findByRole("link", { name: "second page" })).toBeDefined();
    expect(screen.getByText("All 2 shown.")).toBeDefined();

    await userEvent.click(screen.getByRole("button", { name: "Cancel second page" }));
    expect(await screen.findByText("Task “second page” cancelled.")).toBeDefined();
    expect(within(rowOf(first)).getByText("Cancelled")).toBeDefined();
    expect(api.requestsTo("POST", `/api/tasks/${first.id}/cancel`)).toHaveLength(1);
  });

  it("shows an empty state, and an error state with a way to try again", async () => {
    const api = fakeApi({ signedIn: true });
    let fail = true;
    api.on("GET", "/api/tasks", () =>
      fail
        ? problem(503, "a dependency is unavailable; retry shortly")
        : json({ items: [], next_cursor: null }),
    );
    api.on("GET", "/api/tasks/stats", () => json(emptyStats()));
    renderApp("/tasks", { signedIn: true });

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("A dependency is unavailable; retry shortly.");
    fail = false;
    await userEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("No tasks yet.")).toBeDefined();
  });
});

import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { fakeApi, json, problem } from "../../test-support/fake-api.ts";
import { renderApp } from "../../test-support/render-app.tsx";
import type { DeadLetter, MonitorJob, MonitorQueue, MonitorWorker } from "./monitor.api.ts";

const FAILED_JOB: DeadLetter = {
  source: "job-queue",
  id: "report.flaky-1",
  type: "report.flaky",
  status: "failed",
  error: "report source missing",
  payload: { region: "north" },
  failed_at: "2026-01-01T12:00:00.000Z",
  message_ids: [],
};
const FAILED_TASK: DeadLetter = {
  source: "task-queue",
  id: "0190a000-0000-7000-8000-00000000dead",
  type: "fail",
  status: "FAILED",
  error: "always fails",
  payload: { reason: "x" },
  failed_at: "2026-01-01T12:00:00.000Z",
  message_ids: ["m-1"],
};

function aJob(overrides: Partial<MonitorJob> = {}): MonitorJob {
  return {
    id: "email.welcome.1",
    name: "email.welcome",
    state: "completed",
    data: {},
    attempts_made: 1,
    max_attempts: 3,
    priority: 0,
    failed_reason: null,
    result: null,
    created_at: "2026-01-01T12:00:00.000Z",
    run_at: null,
    finished_at: null,
    ...overrides,
  };
}

function operatorApi() {
  return fakeApi({ signedIn: true, operator: true });
}

describe("the monitor", () => {
  it("asks before purging a dead letter: nothing is sent until the purge is confirmed", async () => {
    const api = operatorApi();
    let letters = [FAILED_TASK, FAILED_JOB];
    api.on("GET", "/api/monitor/dead-letters", () => json(letters));
    api.on("DELETE", "/api/monitor/jobs/:id", () => {
      letters = [FAILED_TASK];
      return new Response(null, { status: 204 });
    });
    renderApp("/monitor/dead-letters", { signedIn: true });

    const purge = await screen.findByRole("button", { name: "Purge report.flaky report.flaky-1" });
    await userEvent.click(purge);

    let dialog = await screen.findByRole("alertdialog", { name: "Purge this job?" });
    expect(within(dialog).getByText(/cannot be undone/)).toBeDefined();
    // Focus starts on the safe choice.
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Cancel" }));
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(document.activeElement).toBe(purge);
    expect(api.requestsTo("DELETE", "/api/monitor/jobs/report.flaky-1")).toHaveLength(0);

    // Escape cancels too.
    await userEvent.click(purge);
    await screen.findByRole("alertdialog");
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(api.requestsTo("DELETE", "/api/monitor/jobs/report.flaky-1")).toHaveLength(0);

    await userEvent.click(purge);
    dialog = await screen.findByRole("alertdialog", { name: "Purge this job?" });
    await userEvent.click(within(dialog).getByRole("button", { name: "Purge" }));

    expect(await screen.findByText("report.flaky report.flaky-1 purged.")).toBeDefined();
    expect(api.requestsTo("DELETE", "/api/monitor/jobs/report.flaky-1")).toHaveLength(1);
    await waitFor(() => expect(screen.getByText("No failed jobs.")).toBeDefined());
  });

  it("purges a dead-lettered task after the same confirmation; the task stays FAILED", async () => {
    const api = operatorApi();
    const twice: DeadLetter = {
      ...FAILED_TASK,
      id: "0190a000-0000-7000-8000-0000000000ff",
      message_ids: ["m-2", "m-3"],
    };
    let letters = [FAILED_TASK, twice, FAILED_JOB];
    api.on("GET", "/api/monitor/dead-letters", () => json(letters));
    api.on("POST", "/api/monitor/dead-letters/purge", (request) => {
      const ids = (request.body as { ids?: string[] }).ids;
      const purged = letters.filter((l) => l.source === "task-queue" && ids?.includes(l.id));
      letters = letters.filter((l) => !purged.includes(l));
      return json({ purged: purged.reduce((n, l) => n + l.message_ids.length, 0) });
    });
    renderApp("/monitor/dead-letters", { signedIn: true });

    const purge = await screen.findByRole("button", { name: `Purge fail ${FAILED_TASK.id}` });
    await userEvent.click(purge);
    let dialog = await screen.findByRole("alertdialog", { name: "Purge this dead letter?" });
    expect(dialog.textContent).toContain(FAILED_TASK.id);
    expect(dialog.textContent).toContain("The task stays FAILED: it can still be retried.");
    expect(within(dialog).getByText(/cannot be undone/)).toBeDefined();
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Cancel" }));
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(api.requestsTo("POST", "/api/monitor/dead-letters/purge")).toHaveLength(0);

    await userEvent.click(purge);
    dialog = await screen.findByRole("alertdialog", { name: "Purge this dead letter?" });
    await userEvent.click(within(dialog).getByRole("button", { name: "Purge" }));
    expect(await screen.findByText(`fail ${FAILED_TASK.id} purged.`)).toBeDefined();
    expect(api.requestsTo("POST", "/api/monitor/dead-letters/purge")[0]?.body).toEqual({
      source: "task-queue",
      ids: [FAILED_TASK.id],
    });
    await waitFor(() =>
      expect(screen.queryByRole("button", { name: `Purge fail ${FAILED_TASK.id}` })).toBeNull(),
    );
    // The job's purge is still its own call.
    expect(api.requestsTo("DELETE", "/api/monitor/jobs/report.flaky-1")).toHaveLength(0);

    // A task dead-lettered twice: the dialog says both messages go.
    await userEvent.click(screen.getByRole("button", { name: `Purge fail ${twice.id}` }));
    dialog = await screen.findByRole("alertdialog", { name: "Purge this dead letter?" });
    expect(dialog.textContent).toContain("its 2 messages with it");
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
  });

  it("purges the task queue's whole dead-letter queue, after a confirmation", async () => {
    const api = operatorApi();
    let letters = [FAILED_TASK, FAILED_JOB];
    api.on("GET", "/api/monitor/dead-letters", () => json(letters));
    api.on("POST", "/api/monitor/dead-letters/purge", () => {
      letters = [FAILED_JOB];
      // More than listed: the whole queue goes, not only what the page shows.
      return json({ purged: 7 });
    });
    renderApp("/monitor/dead-letters", { signedIn: true });

    await userEvent.click(await screen.findByRole("button", { name: "Purge all: task queue" }));
    let dialog = await screen.findByRole("alertdialog", { name: "Purge all dead-lettered tasks?" });
    expect(dialog.textContent).toContain("and any not shown");
    await userEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(api.requestsTo("POST", "/api/monitor/dead-letters/purge")).toHaveLength(0);

    await userEvent.click(screen.getByRole("button", { name: "Purge all: task queue" }));
    dialog = await screen.findByRole("alertdialog", { name: "Purge all dead-lettered tasks?" });
    await userEvent.click(within(dialog).getByRole("button", { name: "Purge all" }));
    expect(await screen.findByText("Task queue: 7 dead letters purged.")).toBeDefined();
    expect(api.requestsTo("POST", "/api/monitor/dead-letters/purge")[0]?.body).toEqual({
      source: "task-queue",
    });
    expect(await screen.findByText("No dead-lettered tasks.")).toBeDefined();
    // The failed job is left alone.
    expect(screen.getByRole("button", { name: "Purge report.flaky report.flaky-1" })).toBeDefined();
  });

  it("says so when a task's purge is refused, and keeps the dead letter listed", async () => {
    const api = operatorApi();
    api.on("GET", "/api/monitor/dead-letters", () => json([FAILED_TASK]));
    api.on("POST", "/api/monitor/dead-letters/purge", () =>
      problem(404, "this API has no task queue to monitor"),
    );
    renderApp("/monitor/dead-letters", { signedIn: true });

    await userEvent.click(
      await screen.findByRole("button", { name: `Purge fail ${FAILED_TASK.id}` }),
    );
    const dialog = await screen.findByRole("alertdialog", { name: "Purge this dead letter?" });
    await userEvent.click(within(dialog).getByRole("button", { name: "Purge" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain(`fail ${FAILED_TASK.id} was not purged`);
    expect(alert.textContent).toContain("This API has no task queue to monitor.");
    expect(screen.getByRole("button", { name: `Purge fail ${FAILED_TASK.id}` })).toBeDefined();
  });

  it("retries a dead-lettered task and requeues a failed job with new data", async () => {
    const api = operatorApi();
    api.on("GET", "/api/monitor/dead-letters", () => json([FAILED_TASK, FAILED_JOB]));
    api.on("POST", "/api/monitor/tasks/:id/retry", () => json({}));
    api.on("POST", "/api/monitor/dead-letters/redrive", () =>
      json({ redriven: 1, dead_letters_removed: 0 }),
    );
    renderApp("/monitor/dead-letters", { signedIn: true });

    await userEvent.click(
      await screen.findByRole("button", { name: `Retry fail ${FAILED_TASK.id}` }),
    );
    expect(await screen.findByText(`fail ${FAILED_TASK.id} queued again.`)).toBeDefined();
    expect(api.requestsTo("POST", `/api/monitor/tasks/${FAILED_TASK.id}/retry`)).toHaveLength(1);

    await userEvent.click(
      screen.getByRole("button", { name: "Requeue report.flaky report.flaky-1" }),
    );
    const dialog = await screen.findByRole("dialog", { name: "Requeue report.flaky" });
    const data = within(dialog).getByLabelText("Data (JSON)");
    await userEvent.clear(data);
    await userEvent.type(data, '{{ "region": "north", "ok": true }');
    await userEvent.click(within(dialog).getByRole("button", { name: "Requeue" }));

    expect(
      await screen.findByText("report.flaky report.flaky-1 requeued with new data."),
    ).toBeDefined();
    expect(api.requestsTo("POST", "/api/monitor/dead-letters/redrive")[0]?.body).toEqual({
      source: "job-queue",
      ids: ["report.flaky-1"],
      payload: { region: "north", ok: true },
    });
  });

  it("shows the queues and the workers online, live from /api/monitor/events", async () => {
    const api = operatorApi();
    const queues: MonitorQueue[] = [
      {
        name: "taskflow.tasks",
        engine: "embedded",
        kind: "tasks",
        waiting: 4,
        delayed: 1,
        in_flight: 2,
        consumers: 1,
        dead_lettered: 3,
        completed: null,
        finished_last_minute: { DONE: 9, FAILED: 1, CANCELLED: 0 },
      },
    ];
    const worker = (role: string, status: MonitorWorker["status"]): MonitorWorker => ({
      id: `${role}-1`,
      role,
      host: "box",
      pid: 42,
      status,
      online: status === "online",
      concurrency: 4,
      in_flight: 1,
      processed: 10,
      failed: 0,
      started_at: "2026-01-01T12:00:00.000Z",
      beat_at: "2026-01-01T12:00:00.000Z",
      stopped_at: null,
      heartbeat_interval_ms: 5_000,
      silent_seconds: 2,
    });
    api.on("GET", "/api/monitor/queues", () => json(queues));
    api.on("GET", "/api/monitor/workers", () =>
      json([worker("worker", "online"), worker("relay", "offline")]),
    );
    renderApp("/monitor", { signedIn: true });

    const queue = (await screen.findByRole("heading", { level: 3, name: /Task queue/ })).closest(
      "li",
    );
    if (!queue) throw new Error("no queue card");
    expect(within(queue).getByText("Waiting").nextElementSibling?.textContent).toBe("4");
    expect(within(queue).getByRole("link", { name: "3" }).getAttribute("href")).toBe(
      "/monitor/dead-letters",
    );
    expect(await screen.findByText(/online\./)).toBeDefined();
    expect(screen.getByText("1 of 2")).toBeDefined();

    const stream = await api.eventStream("/api/monitor/events");
    expect(await screen.findByText("Live updates")).toBeDefined();
    queues[0] = { ...(queues[0] as MonitorQueue), waiting: 5 };
    stream.send("task.updated", { id: "t", owner_id: "o", status: "PENDING" });
    await waitFor(() =>
      expect(within(queue).getByText("Waiting").nextElementSibling?.textContent).toBe("5"),
    );
  });

  it("filters jobs by state and patches a job in place from job.updated", async () => {
    const api = operatorApi();
    const failed = aJob({
      id: "report.1",
      name: "report.build",
      state: "failed",
      failed_reason: "no source",
    });
    api.on("GET", "/api/monitor/jobs", (request) =>
      json({
        items: request.query.get("state") === "failed" ? [failed] : [aJob(), failed],
        next_cursor: null,
      }),
    );
    renderApp("/monitor/jobs", { signedIn: true });
    await screen.findByRole("button", { name: "Retry report.build report.1" });

    await userEvent.selectOptions(screen.getByLabelText("State"), "failed");
    expect(await screen.findByRole("heading", { level: 2, name: "Failed jobs" })).toBeDefined();
    await waitFor(() =>
      expect(api.requestsTo("GET", "/api/monitor/jobs").at(-1)?.query.get("state")).toBe("failed"),
    );
    expect(screen.queryByText("email.welcome")).toBeNull();

    const stream = await api.eventStream("/api/monitor/events");
    stream.send("job.updated", {
      id: "report.1",
      queue: "jobs",
      name: "report.build",
      state: "waiting",
      attempts: 0,
    });
    // It left the "failed" filter.
    await waitFor(() =>
      expect(screen.queryByRole("button", { name: "Retry report.build report.1" })).toBeNull(),
    );
  });

  it("when the API answers 403, then it says the monitor is for operators only", async () => {
    const api = fakeApi({ signedIn: true });
    api.on("GET", "/api/monitor/queues", () => problem(403, "the monitor is for operators"));
    api.on("GET", "/api/monitor/workers", () => problem(403, "the monitor is for operators"));
    renderApp("/monitor", { signedIn: true });

    expect((await screen.findByRole("alert")).textContent).toContain(
      "The monitor is for operators only.",
    );
    // Not an operator: the monitor's event stream is never opened.
    expect(api.requestsTo("GET", "/api/monitor/events")).toHaveLength(0);
  });
});

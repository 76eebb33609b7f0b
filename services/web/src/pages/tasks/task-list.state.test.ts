import { describe, expect, it } from "vitest";
import { aTask } from "../../test-support/fake-api.ts";
import { initialTaskList, type TaskListState, taskListReducer } from "./task-list.state.ts";

const ready = (items = [aTask()], nextCursor: string | null = null): TaskListState =>
  taskListReducer(initialTaskList, { type: "loaded", page: { items, next_cursor: nextCursor } });

describe("the task list's state", () => {
  it("moves a task's status in place, and leaves the state alone for an unknown task", () => {
    const task = aTask();
    const state = ready([task]);
    const moved = taskListReducer(state, {
      type: "status-changed",
      id: task.id,
      status: "DONE",
      filter: undefined,
    });
    expect(moved.items[0]?.status).toBe("DONE");
    expect(
      taskListReducer(state, {
        type: "status-changed",
        id: "x",
        status: "DONE",
        filter: undefined,
      }),
    ).toBe(state);
  });

  it("inserts a newly seen task in order, but not beyond the loaded pages", () => {
    const [a, b, c] = [aTask(), aTask(), aTask()];
    if (!a || !b || !c) throw new Error("unreachable");
    // Newest first: c, then a (b falls between them).
    const full = ready([c, a], null);
    expect(taskListReducer(full, { type: "task-seen", task: b, filter: undefined }).items).toEqual([
      c,
      b,
      a,
    ]);
    const older = aTask({ created_at: "2000-01-01T00:00:00.000Z" });
    const paged = ready([c, a], "next");
    expect(taskListReducer(paged, { type: "task-seen", task: older, filter: undefined })).toBe(
      paged,
    );
  });

  it("keeps only tasks of the filtered status", () => {
    const task = aTask({ status: "PENDING" });
    const state = ready([task]);
    const gone = taskListReducer(state, {
      type: "task-seen",
      task: { ...task, status: "FAILED" },
      filter: "PENDING",
    });
    expect(gone.items).toEqual([]);
  });
});

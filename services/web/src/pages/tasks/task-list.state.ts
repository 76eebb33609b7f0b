import type { Task, TaskPage, TaskStatus } from "../../api/client.ts";

/**
 * The task list as loaded page by page (newest first), kept current by live events: a status
 * change moves a task in place, or out of the list when it no longer matches the filter; a
 * task the list has not seen is inserted where it belongs if it falls within what is loaded.
 */
export interface TaskListState {
  phase: "loading" | "ready" | "error";
  items: Task[];
  nextCursor: string | null;
  error?: unknown;
  loadingMore: boolean;
  moreError?: unknown;
}

export type TaskListAction =
  | { type: "reset" }
  | { type: "loaded"; page: TaskPage }
  | { type: "failed"; error: unknown }
  | { type: "more-started" }
  | { type: "more-loaded"; page: TaskPage }
  | { type: "more-failed"; error: unknown }
  | { type: "status-changed"; id: string; status: TaskStatus; filter: TaskStatus | undefined }
  | { type: "task-seen"; task: Task; filter: TaskStatus | undefined };

export const initialTaskList: TaskListState = {
  phase: "loading",
  items: [],
  nextCursor: null,
  loadingMore: false,
};

/** Newest first: created_at, then id (time-ordered UUIDv7) — the API's order. */
function newerFirst(a: Task, b: Task): number {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function taskListReducer(state: TaskListState, action: TaskListAction): TaskListState {
  switch (action.type) {
    case "reset":
      return initialTaskList;
    case "loaded":
      return {
        phase: "ready",
        items: action.page.items,
        nextCursor: action.page.next_cursor,
        loadingMore: false,
      };
    case "failed":
      return { ...state, phase: "error", error: action.error, loadingMore: false };
    case "more-started":
      return { ...state, loadingMore: true, moreError: undefined };
    case "more-loaded": {
      const seen = new Set(state.items.map((t) => t.id));
      return {
        ...state,
        items: [...state.items, ...action.page.items.filter((t) => !seen.has(t.id))],
        nextCursor: action.page.next_cursor,
        loadingMore: false,
      };
    }
    case "more-failed":
      return { ...state, loadingMore: false, moreError: action.error };
    case "status-changed": {
      const index = state.items.findIndex((t) => t.id === action.id);
      const current = state.items[index];
      if (!current || current.status === action.status) return state;
      if (action.filter && action.filter !== action.status) {
        return { ...state, items: state.items.filter((t) => t.id !== action.id) };
      }
      const items = [...state.items];
      items[index] = { ...current, status: action.status };
      return { ...state, items };
    }
    case "task-seen": {
      const { task, filter } = action;
      const others = state.items.filter((t) => t.id !== task.id);
      if (filter && task.status !== filter) {
        return others.length === state.items.length ? state : { ...state, items: others };
      }
      const oldest = state.items.at(-1);
      // Beyond the loaded pages: "Load more" will bring it.
      if (state.nextCursor !== null && oldest && newerFirst(task, oldest) > 0) return state;
      return { ...state, items: [...others, task].sort(newerFirst) };
    }
  }
}

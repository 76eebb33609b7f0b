import { useCallback, useEffect, useLayoutEffect, useReducer, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import type { Task, TaskCreated, TaskStats, TaskStatus } from "../../api/client.ts";
import { ActionMessage } from "../../components/action-message.tsx";
import { DateTime } from "../../components/date-time.tsx";
import { FilterSelect } from "../../components/filter-select.tsx";
import { EmptyState, ErrorState, Loading } from "../../components/page-state.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import { useLiveEvent, useLiveResync } from "../../live/live-events.tsx";
import { useSession } from "../../session/session-context.tsx";
import { TaskCounts } from "./task-counts.tsx";
import { TaskCreateForm } from "./task-create-form.tsx";
import { initialTaskList, taskListReducer } from "./task-list.state.ts";
import {
  isCancellable,
  isTaskStatus,
  StatusBadge,
  statusLabel,
  TASK_STATUSES,
} from "./task-status.tsx";
import { tasksApi } from "./tasks.api.ts";
import { useTaskActions } from "./use-task-actions.ts";

const PAGE_SIZE = 20;
/** Live events come in bursts: counts are read again at most this often. */
const STATS_REFRESH_MS = 500;
/** Unknown tasks named by events are fetched together after this pause… */
const UNKNOWN_FLUSH_MS = 300;
/** …one by one up to this many; beyond, the first page is read again instead. */
const UNKNOWN_FETCH_MAX = 10;

type StatsState =
  | { phase: "loading" }
  | { phase: "ready"; stats: TaskStats }
  | { phase: "error"; error: unknown };

/** /tasks: create a task; the caller's tasks by status, filtered, paged, live. */
export default function TasksPage() {
  useDocumentTitle("Tasks");
  const session = useSession();
  const operator = session.status === "signed-in" && session.operator === true;
  const [params, setParams] = useSearchParams();
  const rawStatus = params.get("status");
  const filter = isTaskStatus(rawStatus) ? rawStatus : undefined;

  const [list, dispatch] = useReducer(taskListReducer, initialTaskList);
  const [stats, setStats] = useState<StatsState>({ phase: "loading" });
  // Answers to requests made for an older filter are dropped.
  const generation = useRef(0);
  const filterRef = useRef(filter);
  const known = useRef(new Set<string>());
  const unknown = useRef(new Set<string>());
  const unknownTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const statsTimer = useRef<ReturnType<typeof setTimeout>>(undefined);

  // A layout effect: in place as the list is committed, before any event can be handled.
  useLayoutEffect(() => {
    known.current = new Set(list.items.map((t) => t.id));
  }, [list.items]);

  const loadFirstPage = useCallback(async (status: TaskStatus | undefined, quiet: boolean) => {
    const mine = ++generation.current;
    if (!quiet) dispatch({ type: "reset" });
    try {
      const page = await tasksApi.list({ status, limit: PAGE_SIZE });
      if (mine === generation.current) dispatch({ type: "loaded", page });
    } catch (error) {
      if (mine === generation.current) dispatch({ type: "failed", error });
    }
  }, []);

  const loadStats = useCallback(async () => {
    try {
      setStats({ phase: "ready", stats: await tasksApi.stats() });
    } catch (error) {
      setStats((s) => (s.phase === "ready" ? s : { phase: "error", error }));
    }
  }, []);

  useLayoutEffect(() => {
    filterRef.current = filter;
  }, [filter]);

  useEffect(() => {
    void loadFirstPage(filter, false);
  }, [filter, loadFirstPage]);

  useEffect(() => {
    void loadStats();
    return () => {
      clearTimeout(statsTimer.current);
      clearTimeout(unknownTimer.current);
    };
  }, [loadStats]);

  const loadMore = async () => {
    if (!list.nextCursor || list.loadingMore) return;
    const mine = generation.current;
    dispatch({ type: "more-started" });
    try {
      const page = await tasksApi.list({
        status: filter,
        cursor: list.nextCursor,
        limit: PAGE_SIZE,
      });
      if (mine === generation.current) dispatch({ type: "more-loaded", page });
    } catch (error) {
      if (mine === generation.current) dispatch({ type: "more-failed", error });
    }
  };

  const refreshStatsSoon = useCallback(() => {
    if (statsTimer.current !== undefined) return;
    statsTimer.current = setTimeout(() => {
      statsTimer.current = undefined;
      void loadStats();
    }, STATS_REFRESH_MS);
  }, [loadStats]);

  const seeTask = useCallback((task: Task) => {
    dispatch({ type: "task-seen", task, filter: filterRef.current });
  }, []);

  const fetchUnknownSoon = (id: string) => {
    unknown.current.add(id);
    if (unknownTimer.current !== undefined) return;
    unknownTimer.current = setTimeout(() => {
      unknownTimer.current = undefined;
      const ids = [...unknown.current].filter((i) => !known.current.has(i));
      unknown.current.clear();
      if (ids.length > UNKNOWN_FETCH_MAX) {
        void loadFirstPage(filterRef.current, true);
        return;
      }
      const mine = generation.current;
      for (const taskId of ids) {
        tasksApi
          .get(taskId)
          .then((task) => {
            if (mine === generation.current) seeTask(task);
          })
          // Gone or unreachable: the next event or reload shows it.
          .catch(() => undefined);
      }
    }, UNKNOWN_FLUSH_MS);
  };

  useLiveEvent("task.updated", ({ id, status }) => {
    if (known.current.has(id)) {
      dispatch({ type: "status-changed", id, status, filter: filterRef.current });
    } else if (!filterRef.current || filterRef.current === status) {
      fetchUnknownSoon(id);
    }
    refreshStatsSoon();
  });

  // Events were missed while the stream was down: read everything again.
  useLiveResync(() => {
    void loadFirstPage(filterRef.current, true);
    void loadStats();
  });

  const actions = useTaskActions(seeTask);

  const onCreated = (created: TaskCreated) => {
    refreshStatsSoon();
    tasksApi
      .get(created.id)
      .then(seeTask)
      .catch(() => undefined);
  };

  const setFilter = (status: TaskStatus | undefined) => {
    setParams(status ? { status } : {}, { replace: true });
  };

  return (
    <>
      <h1>Tasks</h1>
      <TaskCreateForm onCreated={onCreated} />

      <section className="card" aria-labelledby="task-list-heading">
        <h2 id="task-list-heading">Your tasks</h2>
        {stats.phase === "loading" && <Loading label="Loading counts…" />}
        {stats.phase === "error" && (
          <ErrorState title="Counts unavailable" error={stats.error} onRetry={loadStats} />
        )}
        {stats.phase === "ready" && (
          <TaskCounts stats={stats.stats} filter={filter} onFilter={setFilter} />
        )}

        <div className="toolbar">
          <FilterSelect
            label="Status"
            value={filter}
            values={TASK_STATUSES}
            labelOf={statusLabel}
            isValue={isTaskStatus}
            onChange={setFilter}
          />
        </div>

        <ActionMessage message={actions.message} />

        {list.phase === "loading" && <Loading label="Loading tasks…" />}
        {list.phase === "error" && (
          <ErrorState
            title="Tasks unavailable"
            error={list.error}
            onRetry={() => void loadFirstPage(filter, false)}
          />
        )}
        {list.phase === "ready" && list.items.length === 0 && (
          <EmptyState
            title={filter ? `No ${statusLabel(filter).toLowerCase()} tasks.` : "No tasks yet."}
          >
            {filter ? (
              <button type="button" className="button" onClick={() => setFilter(undefined)}>
                Show all tasks
              </button>
            ) : (
              <p>Create one with the form above; it will show up here and update as it runs.</p>
            )}
          </EmptyState>
        )}
        {list.phase === "ready" && list.items.length > 0 && (
          <>
            <table className="task-table">
              <caption className="visually-hidden">
                {filter ? `${statusLabel(filter)} tasks` : "Your tasks"}, newest first
              </caption>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((task) => (
                  <tr key={task.id} data-task-id={task.id}>
                    <td>
                      <Link to={`/tasks/${task.id}`} className="task-name">
                        {task.title ?? task.type}
                      </Link>
                      <span className="task-meta">
                        {task.type} · <DateTime value={task.created_at} />
                      </span>
                    </td>
                    <td>
                      <StatusBadge status={task.status} />
                    </td>
                    <td className="row-actions">
                      {isCancellable(task.status) && (
                        <button
                          type="button"
                          className="button button-small"
                          disabled={actions.busy.has(task.id)}
                          onClick={() => void actions.cancel(task)}
                          aria-label={`Cancel ${task.title ?? task.type}`}
                        >
                          Cancel
                        </button>
                      )}
                      {operator && task.status === "FAILED" && (
                        <button
                          type="button"
                          className="button button-small"
                          disabled={actions.busy.has(task.id)}
                          onClick={() => void actions.retry(task)}
                          aria-label={`Retry ${task.title ?? task.type}`}
                        >
                          Retry
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {list.moreError !== undefined && (
              <ErrorState title="More tasks unavailable" error={list.moreError} />
            )}
            {list.nextCursor ? (
              <button
                type="button"
                className="button load-more"
                onClick={() => void loadMore()}
                disabled={list.loadingMore}
                aria-busy={list.loadingMore}
              >
                {list.loadingMore ? "Loading…" : "Load more"}
              </button>
            ) : (
              <p className="list-end">All {list.items.length} shown.</p>
            )}
          </>
        )}
      </section>
    </>
  );
}

import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiProblem, describeProblem, type Task, type TaskStatus } from "../../api/client.ts";
import { ActionMessage } from "../../components/action-message.tsx";
import { DateTime, formatDuration } from "../../components/date-time.tsx";
import { JourneyTimeline } from "../../components/journey-timeline.tsx";
import { ErrorState, Loading } from "../../components/page-state.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import { useLiveEvent, useLiveResync } from "../../live/live-events.tsx";
import { useSession } from "../../session/session-context.tsx";
import { isCancellable, isFinished, StatusBadge, statusLabel } from "./task-status.tsx";
import { newIdempotencyKey, tasksApi } from "./tasks.api.ts";
import { useTaskActions } from "./use-task-actions.ts";

type DetailState =
  | { phase: "loading" }
  | { phase: "ready"; task: Task }
  | { phase: "error"; error: unknown };

/** A status change seen on the live stream while this page was open. */
interface Observed {
  status: TaskStatus;
  at: string;
}

interface TimelineEntry {
  key: string;
  at: string;
  label: string;
  detail?: string;
}

/**
 * The task's life as the API records it (created, scheduled, last started, finished), with the
 * changes seen live on this page in between. The API keeps no history of earlier attempts:
 * `started_at` is the last attempt's start.
 */
export function taskTimeline(task: Task, observed: readonly Observed[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [{ key: "created", at: task.created_at, label: "Created" }];
  if (task.run_at && task.run_at > task.created_at) {
    entries.push({ key: "run_at", at: task.run_at, label: "Scheduled to start" });
  }
  if (task.started_at) {
    entries.push({
      key: "started",
      at: task.started_at,
      label: task.attempts > 1 ? `Attempt ${task.attempts} started` : "Started",
      detail: `waited ${formatDuration(Date.parse(task.started_at) - Date.parse(task.run_at ?? task.created_at))}`,
    });
  }
  if (task.finished_at && isFinished(task.status)) {
    const ran = task.started_at
      ? `ran ${formatDuration(Date.parse(task.finished_at) - Date.parse(task.started_at))}`
      : undefined;
    entries.push({
      key: "finished",
      at: task.finished_at,
      label: statusLabel(task.status),
      ...(ran && task.status !== "CANCELLED" ? { detail: ran } : {}),
    });
  }
  // Finishing is already there (finished_at); the steps before it are known only if seen.
  observed.forEach((o, i) => {
    if (isFinished(o.status)) return;
    entries.push({ key: `seen-${i}`, at: o.at, label: statusLabel(o.status), detail: "seen live" });
  });
  return entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "null";
}

/** /tasks/:id: one task, its attempts, result, error and timeline; live. */
export default function TaskDetailPage() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const session = useSession();
  const operator = session.status === "signed-in" && session.operator === true;
  const [state, setState] = useState<DetailState>({ phase: "loading" });
  const [observed, setObserved] = useState<Observed[]>([]);
  const [copying, setCopying] = useState(false);
  const [copyError, setCopyError] = useState<unknown>();
  const refreshTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const task = state.phase === "ready" ? state.task : undefined;
  useDocumentTitle(task ? `Task ${task.title ?? task.type}` : "Task");
  const loadJourney = useCallback(() => tasksApi.journey(id), [id]);

  const load = useCallback(
    async (quiet: boolean) => {
      if (!quiet) setState({ phase: "loading" });
      try {
        setState({ phase: "ready", task: await tasksApi.get(id) });
      } catch (error) {
        setState((s) => (quiet && s.phase === "ready" ? s : { phase: "error", error }));
      }
    },
    [id],
  );

  useEffect(() => {
    setObserved([]);
    void load(false);
    return () => clearTimeout(refreshTimer.current);
  }, [load]);

  useLiveEvent("task.updated", (change) => {
    if (change.id !== id) return;
    setObserved((o) => [...o, { status: change.status, at: new Date().toISOString() }]);
    setState((s) =>
      s.phase === "ready" ? { ...s, task: { ...s.task, status: change.status } } : s,
    );
    // The other fields (attempts, times, result) come with the task.
    clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => void load(true), 150);
  });
  useLiveResync(() => void load(true));

  const actions = useTaskActions(
    useCallback((changed: Task) => setState({ phase: "ready", task: changed }), []),
  );

  const runAgain = async (original: Task) => {
    setCopying(true);
    setCopyError(undefined);
    try {
      const created = await tasksApi.create(
        {
          type: original.type,
          title: original.title,
          payload: original.payload,
          max_attempts: original.max_attempts,
          priority: original.priority,
        },
        newIdempotencyKey(),
      );
      navigate(`/tasks/${created.id}`);
    } catch (error) {
      setCopyError(error);
    } finally {
      setCopying(false);
    }
  };

  if (state.phase === "loading") return <Loading label="Loading the task…" />;
  if (state.phase === "error") {
    const missing = state.error instanceof ApiProblem && state.error.status === 404;
    return (
      <>
        <p className="breadcrumb">
          <Link to="/tasks">← Tasks</Link>
        </p>
        <h1>{missing ? "No such task" : "Task"}</h1>
        {missing ? (
          <p>This task does not exist, or it is not yours.</p>
        ) : (
          <ErrorState
            title="The task could not be loaded"
            error={state.error}
            onRetry={() => void load(false)}
          />
        )}
      </>
    );
  }

  const t = state.task;
  return (
    <>
      <p className="breadcrumb">
        <Link to="/tasks">← Tasks</Link>
      </p>
      <div className="title-row">
        <h1>{t.title ?? t.type}</h1>
        <StatusBadge status={t.status} />
      </div>

      <div className="button-row">
        {isCancellable(t.status) && (
          <button
            type="button"
            className="button"
            disabled={actions.busy.has(t.id)}
            onClick={() => void actions.cancel(t)}
          >
            Cancel task
          </button>
        )}
        {operator && t.status === "FAILED" && (
          <button
            type="button"
            className="button"
            disabled={actions.busy.has(t.id)}
            onClick={() => void actions.retry(t)}
          >
            Retry
          </button>
        )}
        {isFinished(t.status) && (
          <button
            type="button"
            className="button"
            disabled={copying}
            onClick={() => void runAgain(t)}
          >
            {copying ? "Submitting…" : "Run again as a new task"}
          </button>
        )}
      </div>
      <ActionMessage message={actions.message} alert={copyError !== undefined}>
        {copyError !== undefined && `Not submitted: ${describeProblem(copyError)}`}
      </ActionMessage>

      <div className="detail-grid">
        <section className="card" aria-labelledby="task-facts">
          <h2 id="task-facts">Details</h2>
          <dl className="facts">
            <dt>Type</dt>
            <dd>{t.type}</dd>
            <dt>Status</dt>
            <dd>{statusLabel(t.status)}</dd>
            <dt>Attempts</dt>
            <dd>
              {t.attempts} of {t.max_attempts}
            </dd>
            <dt>Priority</dt>
            <dd>{t.priority} (0 runs first)</dd>
            <dt>ID</dt>
            <dd className="mono">{t.id}</dd>
          </dl>
        </section>

        <section className="card" aria-labelledby="task-timeline">
          <h2 id="task-timeline">Timeline</h2>
          <ol className="timeline">
            {taskTimeline(t, observed).map((entry) => (
              <li key={entry.key}>
                <span className="timeline-label">{entry.label}</span> <DateTime value={entry.at} />
                {entry.detail && <span className="timeline-detail"> ({entry.detail})</span>}
              </li>
            ))}
          </ol>
        </section>
      </div>

      <JourneyTimeline load={loadJourney} version={t.status} headingId="task-journey" />

      {t.last_error && (
        <section className="card card-error" aria-labelledby="task-error">
          <h2 id="task-error">Last error</h2>
          <pre className="code">{t.last_error}</pre>
        </section>
      )}
      <section className="card" aria-labelledby="task-result">
        <h2 id="task-result">Result</h2>
        {t.status === "DONE" ? (
          <pre className="code">{json(t.result)}</pre>
        ) : (
          <p className="muted">{isFinished(t.status) ? "No result." : "Not finished yet."}</p>
        )}
      </section>
      <section className="card" aria-labelledby="task-payload">
        <h2 id="task-payload">Payload</h2>
        <pre className="code">{json(t.payload)}</pre>
      </section>
    </>
  );
}

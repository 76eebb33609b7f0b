import { type ReactNode, useEffect } from "react";
import { Link } from "react-router";
import { describeProblem } from "../../api/client.ts";
import { DateTime, formatDuration } from "../../components/date-time.tsx";
import { EmptyState, ErrorState, Loading } from "../../components/page-state.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import { type MonitorQueue, type MonitorWorker, monitorApi } from "./monitor.api.ts";
import { type DataState, useMonitorData } from "./monitor-data.ts";

/** Heartbeats are not events: the overview reads them again this often, even while live. */
export const HEARTBEAT_REFRESH_MS = 10_000;

/** /monitor: the queues' numbers and the processes' heartbeats. */
export function MonitorOverview() {
  useDocumentTitle("Monitor");
  const queues = useMonitorData(monitorApi.queues);
  const workers = useMonitorData(monitorApi.workers);
  const reloadQueues = queues.reload;
  const reloadWorkers = workers.reload;

  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === "hidden") return;
      void reloadQueues(true);
      void reloadWorkers(true);
    }, HEARTBEAT_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reloadQueues, reloadWorkers]);
  return (
    <>
      <section className="card" aria-labelledby="monitor-queues">
        <h2 id="monitor-queues">Queues</h2>
        <Data state={queues.state} what="Queues" onRetry={() => void queues.reload(false)}>
          {(items) =>
            items.length === 0 ? (
              <EmptyState title="No queue is configured for this API." />
            ) : (
              <ul className="queue-list">
                {items.map((queue) => (
                  <QueueCard key={`${queue.kind}-${queue.name}`} queue={queue} />
                ))}
              </ul>
            )
          }
        </Data>
      </section>
      <section className="card" aria-labelledby="monitor-workers">
        <h2 id="monitor-workers">Workers</h2>
        <Data state={workers.state} what="Workers" onRetry={() => void workers.reload(false)}>
          {(items) => <Workers workers={items} />}
        </Data>
      </section>
    </>
  );
}

/** A monitor read's loading, error (and failed refresh) states around what it shows. */
export function Data<T>({
  state,
  what,
  onRetry,
  children,
}: {
  state: DataState<T>;
  what: string;
  onRetry: () => void;
  children: (data: T) => ReactNode;
}) {
  if (state.phase === "loading") return <Loading label={`Loading ${what.toLowerCase()}…`} />;
  if (state.phase === "error") {
    return <ErrorState title={`${what} unavailable`} error={state.error} onRetry={onRetry} />;
  }
  return (
    <>
      {state.refreshError !== undefined && (
        <p className="action-message error">
          Could not refresh: {describeProblem(state.refreshError)}
        </p>
      )}
      {children(state.data)}
    </>
  );
}

function Count({ label, value }: { label: string; value: number | null }) {
  if (value === null) return null;
  return (
    <div className="figure">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function QueueCard({ queue }: { queue: MonitorQueue }) {
  const tasks = queue.kind === "tasks";
  const finished = queue.finished_last_minute;
  return (
    <li className="queue">
      <h3>
        {tasks ? "Task queue" : "Job queue"} <span className="mono">{queue.name}</span>
      </h3>
      <p className="task-meta">Engine: {queue.engine}</p>
      <dl className="figures figures-compact">
        <Count label="Waiting" value={queue.waiting} />
        <Count label="Delayed" value={queue.delayed} />
        <Count label={tasks ? "Processing" : "Active"} value={queue.in_flight} />
        <Count label="Consumers" value={queue.consumers} />
        <Count label="Completed" value={queue.completed} />
        <div className={queue.dead_lettered > 0 ? "figure figure-alert" : "figure"}>
          <dt>{tasks ? "Dead letters" : "Failed"}</dt>
          <dd>
            {queue.dead_lettered > 0 ? (
              <Link to="/monitor/dead-letters">{queue.dead_lettered}</Link>
            ) : (
              0
            )}
          </dd>
        </div>
      </dl>
      {finished && (
        <p className="task-meta">
          Finished in the last minute: {finished.DONE} done, {finished.FAILED} failed,{" "}
          {finished.CANCELLED} cancelled.
        </p>
      )}
    </li>
  );
}

const STATUS_ORDER = { online: 0, offline: 1, stopped: 2 } as const;

function Workers({ workers }: { workers: MonitorWorker[] }) {
  if (workers.length === 0) {
    return <EmptyState title="No process has sent a heartbeat yet." />;
  }
  const online = workers.filter((w) => w.online).length;
  const sorted = [...workers].sort(
    (a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || a.role.localeCompare(b.role),
  );
  return (
    <>
      <p>
        <strong>
          {online} of {workers.length}
        </strong>{" "}
        online.
      </p>
      <div className="table-scroll">
        <table className="data-table">
          <caption className="visually-hidden">Processes by role, from their heartbeats</caption>
          <thead>
            <tr>
              <th scope="col">Process</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                In flight
              </th>
              <th scope="col" className="num">
                Processed
              </th>
              <th scope="col" className="num">
                Failed
              </th>
              <th scope="col">Last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((w) => (
              <tr key={w.id}>
                <th scope="row">
                  {w.role}
                  <span className="task-meta">
                    {w.host} · pid {w.pid}
                  </span>
                </th>
                <td>
                  <span className={`badge badge-worker-${w.status}`}>{workerStatus(w)}</span>
                </td>
                <td className="num">
                  {w.in_flight}
                  {w.concurrency > 0 && <span className="muted"> / {w.concurrency}</span>}
                </td>
                <td className="num">{w.processed}</td>
                <td className="num">{w.failed}</td>
                <td>
                  {formatDuration(w.silent_seconds * 1000)} ago
                  <span className="task-meta">
                    <DateTime value={w.beat_at} />
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function workerStatus(worker: MonitorWorker): string {
  if (worker.status === "online") return "Online";
  if (worker.status === "stopped") return "Stopped";
  return "Offline";
}

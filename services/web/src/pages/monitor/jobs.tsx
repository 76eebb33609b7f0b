import { useState } from "react";
import { useSearchParams } from "react-router";
import { ApiProblem } from "../../api/client.ts";
import { ActionMessage } from "../../components/action-message.tsx";
import { ConfirmDialog } from "../../components/confirm-dialog.tsx";
import { ListFooter, useCursorList } from "../../components/cursor-list.tsx";
import { DateTime } from "../../components/date-time.tsx";
import { FilterSelect } from "../../components/filter-select.tsx";
import { isForbidden } from "../../components/operators-only.tsx";
import { EmptyState, ErrorState, Loading } from "../../components/page-state.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import {
  isJobState,
  JOB_STATES,
  type JobState,
  jobStateLabel,
  type MonitorJob,
  type MonitorJobPage,
  monitorApi,
} from "./monitor.api.ts";
import { useReportForbidden } from "./monitor-data.ts";
import { useMonitorEvent, useMonitorRefresh } from "./monitor-live.tsx";
import { useActionMessage } from "./use-action-message.ts";

const PAGE_SIZE = 20;

/** /monitor/jobs (?state=failed): the background jobs by state, newest first; retry and purge. */
export function MonitorJobs() {
  useDocumentTitle("Jobs · Monitor");
  const [params, setParams] = useSearchParams();
  const raw = params.get("state");
  const filter = isJobState(raw) ? raw : undefined;
  const reportForbidden = useReportForbidden();
  const actions = useActionMessage();
  const [purging, setPurging] = useState<MonitorJob>();

  const list = useCursorList<MonitorJob, MonitorJobPage>(async (cursor) => {
    try {
      return await monitorApi.jobs({ state: filter, cursor, limit: PAGE_SIZE });
    } catch (error) {
      if (isForbidden(error)) reportForbidden();
      throw error;
    }
  }, filter ?? "all");

  // A job's change, in place; one that leaves the filter's state leaves the list.
  useMonitorEvent("job.updated", (change) => {
    list.update((items) =>
      items.flatMap((job) => {
        if (job.id !== change.id) return [job];
        if (filter && change.state !== filter) return [];
        return [
          {
            ...job,
            state: change.state,
            attempts_made: change.attempts,
            failed_reason: change.failed_reason ?? job.failed_reason,
          },
        ];
      }),
    );
  });
  // New jobs (and changes the events did not carry) come with the next read.
  useMonitorRefresh(() => void list.reload("merge"));

  const setFilter = (state: JobState | undefined) =>
    setParams(state ? { state } : {}, { replace: true });

  const replace = (job: MonitorJob) =>
    list.update((items) => items.map((j) => (j.id === job.id ? { ...j, ...job } : j)));

  const retry = (job: MonitorJob) =>
    actions.run(
      job.id,
      `Job ${job.name} queued again.`,
      `Job ${job.name} was not retried`,
      async () => replace(await monitorApi.retryJob(job.id)),
    );

  const purge = async (job: MonitorJob) => {
    await actions.run(
      job.id,
      `Job ${job.name} purged.`,
      `Job ${job.name} was not purged`,
      async () => {
        await monitorApi.purgeJob(job.id);
        // Gone from the engine; the history keeps it, marked.
        replace({ ...job, removed_at: new Date().toISOString() });
      },
    );
    setPurging(undefined);
  };

  const noQueue =
    list.phase === "error" && list.error instanceof ApiProblem && list.error.status === 404;

  return (
    <section className="card" aria-labelledby="monitor-jobs">
      <h2 id="monitor-jobs">{filter ? `${jobStateLabel(filter)} jobs` : "Jobs"}</h2>
      <div className="toolbar">
        <FilterSelect
          label="State"
          value={filter}
          values={JOB_STATES}
          labelOf={jobStateLabel}
          isValue={isJobState}
          onChange={setFilter}
        />
      </div>
      <ActionMessage message={actions.message} />

      {list.phase === "loading" && <Loading label="Loading jobs…" />}
      {noQueue && <EmptyState title="This API runs without a job queue." />}
      {list.phase === "error" && !noQueue && (
        <ErrorState
          title="Jobs unavailable"
          error={list.error}
          onRetry={() => void list.reload("reset")}
        />
      )}
      {list.phase === "ready" && list.items.length === 0 && (
        <EmptyState
          title={filter ? `No ${jobStateLabel(filter).toLowerCase()} jobs.` : "No jobs yet."}
        >
          {filter && (
            <button type="button" className="button" onClick={() => setFilter(undefined)}>
              Show all jobs
            </button>
          )}
        </EmptyState>
      )}
      {list.phase === "ready" && list.items.length > 0 && (
        <>
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">
                {filter ? `${jobStateLabel(filter)} jobs` : "Jobs"}, newest first
              </caption>
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">State</th>
                  <th scope="col" className="num">
                    Attempts
                  </th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((job) => (
                  <tr key={job.id} data-job-id={job.id}>
                    <th scope="row">
                      {job.name}
                      <span className="task-meta mono">{job.id}</span>
                      {job.failed_reason && job.state === "failed" && (
                        <span className="row-error">{job.failed_reason}</span>
                      )}
                    </th>
                    <td>
                      <span className={`badge badge-job-${job.state}`}>
                        {jobStateLabel(job.state)}
                      </span>
                      {job.removed_at && <span className="badge badge-cancelled">Purged</span>}
                    </td>
                    <td className="num">
                      {job.attempts_made} / {job.max_attempts}
                    </td>
                    <td>
                      <DateTime value={job.created_at} />
                    </td>
                    <td className="row-actions">
                      {job.state === "failed" && !job.removed_at && (
                        <button
                          type="button"
                          className="button button-small"
                          disabled={actions.busy.has(job.id)}
                          onClick={() => void retry(job)}
                          aria-label={`Retry ${job.name} ${job.id}`}
                        >
                          Retry
                        </button>
                      )}
                      {job.state !== "active" && !job.removed_at && (
                        <button
                          type="button"
                          className="button button-small button-danger-quiet"
                          disabled={actions.busy.has(job.id)}
                          onClick={() => setPurging(job)}
                          aria-label={`Purge ${job.name} ${job.id}`}
                        >
                          Purge
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ListFooter list={list} noun="jobs" />
        </>
      )}
      {purging && (
        <ConfirmDialog
          title="Purge this job?"
          confirmLabel="Purge"
          busyLabel="Purging…"
          busy={actions.busy.has(purging.id)}
          onConfirm={() => void purge(purging)}
          onCancel={() => setPurging(undefined)}
        >
          <p>
            The {jobStateLabel(purging.state).toLowerCase()} job <strong>{purging.name}</strong> (
            <span className="mono">{purging.id}</span>) is removed from the job queue and will not
            run. Its history stays. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

import { type FormEvent, useId, useState } from "react";
import { ApiProblem, describeProblem } from "../../api/client.ts";
import { ActionMessage } from "../../components/action-message.tsx";
import { ConfirmDialog, Dialog } from "../../components/confirm-dialog.tsx";
import { DateTime } from "../../components/date-time.tsx";
import { FormErrors, FormField } from "../../components/form-field.tsx";
import { EmptyState } from "../../components/page-state.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";
import { useFormProblems } from "../auth/use-form-problems.ts";
import { parsePayload } from "../tasks/task-create-form.tsx";
import { type DeadLetter, type DeadLetterSource, monitorApi } from "./monitor.api.ts";
import { useMonitorData } from "./monitor-data.ts";
import { Data } from "./overview.tsx";
import { useActionMessage } from "./use-action-message.ts";

const SOURCES: { source: DeadLetterSource; title: string; empty: string }[] = [
  { source: "task-queue", title: "Task queue", empty: "No dead-lettered tasks." },
  { source: "job-queue", title: "Job queue", empty: "No failed jobs." },
];

type Confirm =
  | { kind: "purge"; letter: DeadLetter }
  | { kind: "purge-all"; source: DeadLetterSource; letters: DeadLetter[] };

/** Whether the letter's task or job is failed now (only then can it run again). */
function isFailed(letter: DeadLetter): boolean {
  return letter.status === "FAILED" || letter.status === "failed";
}

/** A task's dead letter is a message, always purgeable; a job, unless it is running. */
function isPurgeable(letter: DeadLetter): boolean {
  return letter.source === "task-queue" || letter.status !== "active";
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "email.welcome 0193…": what the buttons of a letter are named after. */
function letterName(letter: DeadLetter): string {
  return `${letter.type ?? "unknown message"} ${letter.id}`;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "null";
}

/**
 * /monitor/dead-letters: dead-lettered tasks and failed jobs. Retry runs one again as it is;
 * Requeue runs it again, its payload (or data) edited if need be; Purge (after a confirmation)
 * drops a task's dead-lettered messages, the task staying FAILED, or removes a failed job.
 * Each source can be requeued at once and purged at once.
 */
export function MonitorDeadLetters() {
  useDocumentTitle("Dead letters · Monitor");
  const data = useMonitorData(monitorApi.deadLetters);
  const actions = useActionMessage();
  const [confirm, setConfirm] = useState<Confirm>();
  const [requeueing, setRequeueing] = useState<DeadLetter>();
  const reload = () => void data.reload(true);

  const retry = async (letter: DeadLetter) => {
    await actions.run(
      letter.id,
      `${letterName(letter)} queued again.`,
      `${letterName(letter)} was not retried`,
      () =>
        letter.source === "task-queue"
          ? monitorApi.retryTask(letter.id).then(() => undefined)
          : monitorApi.retryJob(letter.id).then(() => undefined),
    );
    reload();
  };

  const requeueAll = async (source: DeadLetterSource, title: string) => {
    await actions.run(
      source,
      (result: { redriven: number }) =>
        `${title}: ${result.redriven} ${result.redriven === 1 ? "dead letter" : "dead letters"} requeued.`,
      `${title}: not requeued`,
      () => monitorApi.redrive({ source }),
    );
    reload();
  };

  const purge = async (letter: DeadLetter) => {
    await actions.run(
      letter.id,
      (purged: number) =>
        purged > 0 ? `${letterName(letter)} purged.` : `${letterName(letter)} was gone already.`,
      `${letterName(letter)} was not purged`,
      async () => {
        if (letter.source === "job-queue") {
          await monitorApi.purgeJob(letter.id);
          return 1;
        }
        return (await monitorApi.purgeDeadLetters({ source: "task-queue", ids: [letter.id] }))
          .purged;
      },
    );
    setConfirm(undefined);
    reload();
  };

  /** The task queue's dead-letter queue, emptied in one call (also what is not listed). */
  const purgeAllTasks = async () => {
    await actions.run(
      "purge-all-task-queue",
      (result: { purged: number }) =>
        `Task queue: ${plural(result.purged, "dead letter", "dead letters")} purged.`,
      "Task queue: dead letters not purged",
      () => monitorApi.purgeDeadLetters({ source: "task-queue" }),
    );
    setConfirm(undefined);
    reload();
  };

  const purgeAllJobs = async (letters: DeadLetter[]) => {
    await actions.run(
      "purge-all-job-queue",
      (purged: number) =>
        purged === letters.length
          ? `${purged} failed ${purged === 1 ? "job" : "jobs"} purged.`
          : `${purged} of ${letters.length} failed jobs purged; the others could not be (running again?).`,
      "Failed jobs not purged",
      async () => {
        let purged = 0;
        for (const letter of letters) {
          try {
            await monitorApi.purgeJob(letter.id);
            purged += 1;
          } catch (error) {
            // Gone already, or running again: the others are still purged.
            if (!(error instanceof ApiProblem) || error.status === 0 || error.status >= 500)
              throw error;
          }
        }
        return purged;
      },
    );
    setConfirm(undefined);
    reload();
  };

  return (
    <section className="card" aria-labelledby="monitor-dead-letters">
      <h2 id="monitor-dead-letters">Dead letters</h2>
      <ActionMessage message={actions.message} />
      <Data state={data.state} what="Dead letters" onRetry={() => void data.reload(false)}>
        {(letters) =>
          SOURCES.map(({ source, title, empty }) => {
            const mine = letters.filter((l) => l.source === source);
            const purgeable = mine.filter(isPurgeable);
            return (
              <section
                key={source}
                className="dead-letter-source"
                aria-labelledby={`dead-letters-${source}`}
              >
                <div className="title-row">
                  <h3 id={`dead-letters-${source}`}>
                    {title} <span className="muted">({mine.length})</span>
                  </h3>
                  {mine.length > 0 && (
                    <div className="button-row">
                      <button
                        type="button"
                        className="button button-small"
                        disabled={actions.busy.has(source)}
                        onClick={() => void requeueAll(source, title)}
                        aria-label={`Requeue all: ${title.toLowerCase()}`}
                      >
                        Requeue all
                      </button>
                      {purgeable.length > 0 && (
                        <button
                          type="button"
                          className="button button-small button-danger-quiet"
                          disabled={actions.busy.has(`purge-all-${source}`)}
                          onClick={() =>
                            setConfirm({ kind: "purge-all", source, letters: purgeable })
                          }
                          aria-label={`Purge all: ${title.toLowerCase()}`}
                        >
                          Purge all
                        </button>
                      )}
                    </div>
                  )}
                </div>
                {mine.length === 0 ? (
                  <EmptyState title={empty} />
                ) : (
                  <ul
                    className="dead-letter-list"
                    aria-label={`Dead letters: ${title.toLowerCase()}`}
                  >
                    {mine.map((letter) => (
                      <DeadLetterItem
                        key={`${letter.source}-${letter.id}`}
                        letter={letter}
                        busy={actions.busy.has(letter.id)}
                        onRetry={() => void retry(letter)}
                        onRequeue={() => setRequeueing(letter)}
                        onPurge={() => setConfirm({ kind: "purge", letter })}
                      />
                    ))}
                  </ul>
                )}
              </section>
            );
          })
        }
      </Data>

      {confirm?.kind === "purge" && confirm.letter.source === "task-queue" && (
        <ConfirmDialog
          title="Purge this dead letter?"
          confirmLabel="Purge"
          busyLabel="Purging…"
          busy={actions.busy.has(confirm.letter.id)}
          onConfirm={() => void purge(confirm.letter)}
          onCancel={() => setConfirm(undefined)}
        >
          {confirm.letter.type ? (
            <p>
              The task <strong>{confirm.letter.type}</strong> (
              <span className="mono">{confirm.letter.id}</span>) leaves the dead-letter queue for
              good
              {confirm.letter.message_ids.length > 1
                ? `, its ${confirm.letter.message_ids.length} messages with it`
                : ""}
              .{" "}
              {isFailed(confirm.letter)
                ? "The task stays FAILED: it can still be retried."
                : "The task itself is not changed."}{" "}
              This cannot be undone.
            </p>
          ) : (
            <p>
              The message <span className="mono">{confirm.letter.id}</span>, which names no known
              task, is removed from the dead-letter queue for good. This cannot be undone.
            </p>
          )}
        </ConfirmDialog>
      )}
      {confirm?.kind === "purge" && confirm.letter.source === "job-queue" && (
        <ConfirmDialog
          title="Purge this job?"
          confirmLabel="Purge"
          busyLabel="Purging…"
          busy={actions.busy.has(confirm.letter.id)}
          onConfirm={() => void purge(confirm.letter)}
          onCancel={() => setConfirm(undefined)}
        >
          <p>
            The failed job <strong>{confirm.letter.type}</strong> (
            <span className="mono">{confirm.letter.id}</span>) is removed from the job queue and
            will not run again. Its history stays. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
      {confirm?.kind === "purge-all" && confirm.source === "task-queue" && (
        <ConfirmDialog
          title="Purge all dead-lettered tasks?"
          confirmLabel="Purge all"
          busyLabel="Purging…"
          busy={actions.busy.has("purge-all-task-queue")}
          onConfirm={() => void purgeAllTasks()}
          onCancel={() => setConfirm(undefined)}
        >
          <p>
            The task queue's dead-letter queue is emptied: the{" "}
            {plural(confirm.letters.length, "dead letter", "dead letters")} listed here, and any not
            shown. Their tasks stay FAILED and can still be retried one by one. This cannot be
            undone.
          </p>
        </ConfirmDialog>
      )}
      {confirm?.kind === "purge-all" && confirm.source === "job-queue" && (
        <ConfirmDialog
          title="Purge all failed jobs?"
          confirmLabel="Purge all"
          busyLabel="Purging…"
          busy={actions.busy.has("purge-all-job-queue")}
          onConfirm={() => void purgeAllJobs(confirm.letters)}
          onCancel={() => setConfirm(undefined)}
        >
          <p>
            The {confirm.letters.length} failed {confirm.letters.length === 1 ? "job" : "jobs"}{" "}
            listed here are removed from the job queue and will not run again. Their history stays.
            This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
      {requeueing && (
        <RequeueDialog
          letter={requeueing}
          onCancel={() => setRequeueing(undefined)}
          onDone={(text) => {
            setRequeueing(undefined);
            actions.setMessage({ kind: "success", text });
            reload();
          }}
        />
      )}
    </section>
  );
}

function DeadLetterItem({
  letter,
  busy,
  onRetry,
  onRequeue,
  onPurge,
}: {
  letter: DeadLetter;
  busy: boolean;
  onRetry: () => void;
  onRequeue: () => void;
  onPurge: () => void;
}) {
  const failed = isFailed(letter);
  const name = letterName(letter);
  return (
    <li className="dead-letter" data-dead-letter-id={letter.id}>
      <div className="dead-letter-text">
        <p className="dead-letter-title">
          <strong>{letter.type ?? "Unknown message"}</strong>{" "}
          {letter.status && <span className="badge badge-failed">{letter.status}</span>}
        </p>
        <p className="task-meta mono">{letter.id}</p>
        {letter.error && <p className="row-error">{letter.error}</p>}
        <p className="task-meta">
          {letter.failed_at ? (
            <>
              Failed <DateTime value={letter.failed_at} />
            </>
          ) : (
            "Failure time unknown"
          )}
          {letter.message_ids.length > 1 && ` · ${letter.message_ids.length} messages`}
        </p>
        {!failed && letter.type && (
          <p className="task-meta">Not failed now: it was run again already.</p>
        )}
        <details>
          <summary>Payload</summary>
          <pre className="code">{json(letter.payload)}</pre>
        </details>
      </div>
      <div className="button-row dead-letter-actions">
        {failed && (
          <>
            <button
              type="button"
              className="button button-small"
              disabled={busy}
              onClick={onRetry}
              aria-label={`Retry ${name}`}
            >
              Retry
            </button>
            <button
              type="button"
              className="button button-small"
              disabled={busy}
              onClick={onRequeue}
              aria-label={`Requeue ${name}`}
            >
              Requeue…
            </button>
          </>
        )}
        {isPurgeable(letter) && (
          <button
            type="button"
            className="button button-small button-danger-quiet"
            disabled={busy}
            onClick={onPurge}
            aria-label={`Purge ${name}`}
          >
            Purge
          </button>
        )}
      </div>
    </li>
  );
}

/** Requeue one dead letter, its payload (task) or data (job) edited or as it was. */
function RequeueDialog({
  letter,
  onCancel,
  onDone,
}: {
  letter: DeadLetter;
  onCancel: () => void;
  onDone: (message: string) => void;
}) {
  const original = json(letter.payload);
  const [text, setText] = useState(original);
  const [busy, setBusy] = useState(false);
  const problems = useFormProblems<"payload">();
  const hintId = useId();
  const what = letter.source === "task-queue" ? "payload" : "data";

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const changed = text.trim() !== original.trim();
    const parsed = changed ? parsePayload(text) : { value: undefined };
    if ("error" in parsed) return problems.report({ fields: { payload: parsed.error } });
    setBusy(true);
    try {
      await monitorApi.redrive({
        source: letter.source,
        ids: [letter.id],
        ...(changed ? { payload: parsed.value ?? null } : {}),
      });
      onDone(`${letterName(letter)} requeued${changed ? ` with new ${what}` : ""}.`);
    } catch (error) {
      const message = error instanceof ApiProblem ? error.fieldError("/payload") : undefined;
      problems.report({
        fields: message ? { payload: message } : {},
        summary: [`Not requeued: ${describeProblem(error)}`],
      });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      title={`Requeue ${letter.type ?? "this message"}`}
      describedBy={hintId}
      busy={busy}
      onDismiss={onCancel}
    >
      <form ref={problems.formRef} onSubmit={onSubmit} noValidate aria-busy={busy}>
        <p id={hintId} className="dialog-text">
          It goes back to its queue and runs again. Change its {what} below if it failed because of
          it; leave it as it is to run it unchanged.
        </p>
        <FormErrors messages={problems.summary} summaryRef={problems.summaryRef} />
        <FormField
          label={letter.source === "task-queue" ? "Payload (JSON)" : "Data (JSON)"}
          error={problems.fields.payload}
        >
          <textarea
            className="mono"
            rows={8}
            spellCheck={false}
            autoCapitalize="off"
            autoCorrect="off"
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              problems.clearField("payload");
            }}
          />
        </FormField>
        <div className="button-row dialog-actions">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? "Requeueing…" : "Requeue"}
          </button>
          <button type="button" className="button" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

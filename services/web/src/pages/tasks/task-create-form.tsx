import { type FormEvent, useId, useRef, useState } from "react";
import { Link } from "react-router";
import { ApiProblem, describeProblem, type TaskCreated } from "../../api/client.ts";
import { FormErrors, FormField } from "../../components/form-field.tsx";
import { useFormProblems } from "../auth/use-form-problems.ts";
import { TASK_TYPES } from "./task-types.ts";
import { newIdempotencyKey, tasksApi } from "./tasks.api.ts";

type Field = "type" | "title" | "payload" | "max_attempts";
const FIELDS: readonly Field[] = ["type", "title", "payload", "max_attempts"];

interface Draft {
  type: string;
  title: string;
  payload: string;
  maxAttempts: string;
}

const firstType = TASK_TYPES[0] ?? { type: "sleep", samplePayload: "{}", description: "" };

/** The payload as a value, or why it is not JSON. Empty means "no payload". */
export function parsePayload(text: string): { value: unknown } | { error: string } {
  if (!text.trim()) return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : "";
    return { error: `The payload is not valid JSON${reason ? ` (${reason})` : ""}.` };
  }
}

/**
 * Submit a task: type, optional title, JSON payload, max attempts. Checks what it can before
 * sending and shows the API's field errors at their fields. A submit that got no answer is
 * sent again with the same Idempotency-Key, so it cannot make two tasks.
 */
export function TaskCreateForm({ onCreated }: { onCreated?: (task: TaskCreated) => void }) {
  const headingId = useId();
  const [draft, setDraft] = useState<Draft>({
    type: firstType.type,
    title: "",
    payload: firstType.samplePayload,
    maxAttempts: "3",
  });
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<TaskCreated>();
  const pendingKey = useRef<string | undefined>(undefined);
  const problems = useFormProblems<Field>();
  const typeInfo = TASK_TYPES.find((t) => t.type === draft.type);

  const edit = (field: Field, patch: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    problems.clearField(field);
    // Another request now: a new key.
    pendingKey.current = undefined;
  };

  const onTypeChange = (type: string) => {
    const previous = TASK_TYPES.find((t) => t.type === draft.type);
    const next = TASK_TYPES.find((t) => t.type === type);
    // The sample follows the type until the user writes a payload of their own.
    const untouched = !draft.payload.trim() || draft.payload === previous?.samplePayload;
    edit("type", { type, ...(untouched && next ? { payload: next.samplePayload } : {}) });
  };

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setCreated(undefined);
    const fields: Partial<Record<Field, string>> = {};
    const payload = parsePayload(draft.payload);
    if ("error" in payload) fields.payload = payload.error;
    const maxAttempts = Number(draft.maxAttempts);
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) {
      fields.max_attempts = "Enter a whole number from 1 to 20.";
    }
    if (!draft.type) fields.type = "Choose a task type.";
    if (Object.keys(fields).length > 0 || "error" in payload) return problems.report({ fields });

    pendingKey.current ??= newIdempotencyKey();
    setBusy(true);
    try {
      const task = await tasksApi.create(
        {
          type: draft.type,
          ...(draft.title.trim() ? { title: draft.title.trim() } : {}),
          ...(payload.value === undefined ? {} : { payload: payload.value }),
          max_attempts: maxAttempts,
        },
        pendingKey.current,
      );
      pendingKey.current = undefined;
      problems.clear();
      setCreated(task);
      onCreated?.(task);
    } catch (error) {
      // Only a request that got no answer may have been stored: keep its key for the retry.
      if (!(error instanceof ApiProblem && error.status === 0)) pendingKey.current = undefined;
      reportFailure(error);
    } finally {
      setBusy(false);
    }
  };

  const reportFailure = (error: unknown) => {
    if (!(error instanceof ApiProblem) || error.status !== 422) {
      return problems.report({ summary: [describeProblem(error)] });
    }
    const fields: Partial<Record<Field, string>> = {};
    for (const field of FIELDS) {
      const message = error.fieldError(`/${field}`);
      if (message) fields[field] = message;
    }
    const others = error.otherErrors(FIELDS.map((f) => `/${f}`));
    problems.report({
      fields,
      summary: [
        describeProblem(error),
        ...others.map((e) => `${e.path.replace(/^\/(body\/)?/, "")}: ${e.message}`),
      ],
    });
  };

  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>New task</h2>
      <form ref={problems.formRef} onSubmit={onSubmit} noValidate aria-busy={busy}>
        <FormErrors messages={problems.summary} summaryRef={problems.summaryRef} />
        <div className="form-grid">
          <FormField label="Type" hint={typeInfo?.description} error={problems.fields.type}>
            <select name="type" value={draft.type} onChange={(e) => onTypeChange(e.target.value)}>
              {TASK_TYPES.map((t) => (
                <option key={t.type} value={t.type}>
                  {t.type}
                </option>
              ))}
            </select>
          </FormField>
          <FormField label="Title" hint="Optional." error={problems.fields.title}>
            <input
              name="title"
              maxLength={500}
              value={draft.title}
              onChange={(e) => edit("title", { title: e.target.value })}
            />
          </FormField>
          <FormField
            label="Max attempts"
            hint="1 to 20: a failed attempt is retried until then."
            error={problems.fields.max_attempts}
          >
            <input
              name="max_attempts"
              type="number"
              inputMode="numeric"
              min={1}
              max={20}
              step={1}
              value={draft.maxAttempts}
              onChange={(e) => edit("max_attempts", { maxAttempts: e.target.value })}
            />
          </FormField>
        </div>
        <FormField
          label="Payload (JSON)"
          hint="The input of the task's handler."
          error={problems.fields.payload}
        >
          <textarea
            name="payload"
            className="mono"
            rows={4}
            spellCheck={false}
            autoCapitalize="off"
            autoCorrect="off"
            value={draft.payload}
            onChange={(e) => edit("payload", { payload: e.target.value })}
          />
        </FormField>
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? "Creating…" : "Create task"}
          </button>
          <p className="form-status" role="status">
            {created && (
              <>
                Task created:{" "}
                <Link to={`/tasks/${created.id}`}>{created.title ?? created.type}</Link>.
              </>
            )}
          </p>
        </div>
      </form>
    </section>
  );
}

import type pg from "pg";
import type { Effect, Ledger } from "./ledger.ts";

/**
 * The checker: after the faults stopped and the system settled, compares the ledger (what
 * clients were told, which effects happened) with what PostgreSQL holds.
 *
 * - lost: a request answered 2xx whose task is not DONE (missing, FAILED, or never
 *   finished), or a DONE task whose effect never happened;
 * - duplicated: one claim's effect performed twice (two effects with the same attempt), an
 *   effect of an attempt the task never reached, or a task that became DONE more than once
 *   (two distinct task.done events on the tasks stream);
 * - unexpected: a task nobody was told exists (its request was refused with a 4xx, or its
 *   key is not in the ledger);
 * - recovered: a request whose answer was lost (5xx, reset, timeout) whose task is DONE;
 * - stuck: a task of the ledger still not finished (PENDING, PROCESSING, RETRYING);
 * - re-run: tasks whose effect ran in two attempts — at-least-once after a crash between the
 *   effect and its commit, as designed (reported, not a failure);
 * - recovery s: from the end of the faults to the moment every task was finished.
 */
export interface ChaosReport {
  scenario: string;
  requests: number;
  ok: number;
  failed: number;
  unknown: number;
  "5xx": number;
  lost: number;
  duplicated: number;
  unexpected: number;
  recovered: number;
  stuck: number;
  "re-run": number;
  "recovery s": number | null;
}

const UNFINISHED = ["PENDING", "PROCESSING", "RETRYING"];

interface TaskRow {
  id: string;
  title: string | null;
  status: string;
  attempts: number;
}

/**
 * Waits until none of `ownerId`'s tasks is unfinished and the outbox is empty (so every
 * task.done event is on the stream), at most `timeoutMs`. Answers the seconds it took from
 * `faultsEndedAt`, or null if it never settled.
 */
export async function settle(
  sql: pg.Pool,
  ownerId: string,
  faultsEndedAt: number,
  timeoutMs = 120_000,
): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { rows } = await sql.query<{ unfinished: number; outbox: number }>(
        `SELECT (SELECT count(*)::int FROM tasks WHERE owner_id = $1 AND status = ANY($2)) AS unfinished,
                (SELECT count(*)::int FROM outbox) AS outbox`,
        [ownerId, UNFINISHED],
      );
      const row = rows[0];
      if (row && row.unfinished === 0 && row.outbox === 0) {
        return Math.round((Date.now() - faultsEndedAt) / 100) / 10;
      }
    } catch {
      // the database may still be coming back
    }
    if (Date.now() > deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function check(options: {
  scenario: string;
  sql: pg.Pool;
  ownerId: string;
  ledger: Ledger;
  /** The effects of every scenario (filtered to this owner's tasks here). */
  effects: readonly Effect[];
  /** The topic task.done events go to (`tasks`). */
  tasksTopic: string;
  recoverySeconds: number | null;
  /** Task types whose DONE requires an effect (default: chaos.effect). */
  effectTypes?: readonly string[];
}): Promise<ChaosReport> {
  const { sql, ownerId, ledger } = options;
  const effectTypes = new Set(options.effectTypes ?? ["chaos.effect"]);
  const { rows: tasks } = await sql.query<TaskRow & { type: string }>(
    "SELECT id, title, status, attempts, type FROM tasks WHERE owner_id = $1",
    [ownerId],
  );
  const { rows: doneEvents } = await sql.query<{ task_id: string; n: number }>(
    `SELECT value->'data'->>'task_id' AS task_id, count(DISTINCT event_id)::int AS n
       FROM stream_records
      WHERE topic = $1 AND value->>'type' = 'task.done' AND value->'data'->>'owner_id' = $2
      GROUP BY 1`,
    [options.tasksTopic, ownerId],
  );
  const doneTimes = new Map(doneEvents.map((r) => [r.task_id, r.n]));
  const byTitle = new Map<string, TaskRow & { type: string }>();
  const byId = new Map<string, TaskRow & { type: string }>();
  for (const t of tasks) {
    if (t.title !== null) byTitle.set(t.title, t);
    byId.set(t.id, t);
  }
  const effectsByTask = new Map<string, number[]>();
  for (const e of options.effects) {
    if (!byId.has(e.task_id)) continue;
    const list = effectsByTask.get(e.task_id) ?? [];
    list.push(e.attempt);
    effectsByTask.set(e.task_id, list);
  }

  let lost = 0;
  let recovered = 0;
  let stuck = 0;
  let unexpected = 0;
  const told = new Map(ledger.entries.map((e) => [e.key, e]));
  for (const entry of ledger.entries) {
    const task = byTitle.get(entry.key);
    if (task && UNFINISHED.includes(task.status)) stuck++;
    if (entry.outcome === "ok" && task?.status !== "DONE") lost++;
    if (entry.outcome === "unknown" && task?.status === "DONE") recovered++;
  }
  for (const task of tasks) {
    const entry = task.title === null ? undefined : told.get(task.title);
    if (!entry || entry.outcome === "failed") unexpected++;
    if (
      entry?.outcome === "ok" &&
      task.status === "DONE" &&
      effectTypes.has(task.type) &&
      !effectsByTask.has(task.id)
    ) {
      lost++;
    }
  }
  let duplicated = 0;
  let reRun = 0;
  for (const task of tasks) {
    const attempts = effectsByTask.get(task.id) ?? [];
    const distinct = new Set(attempts);
    const sameClaimTwice = distinct.size !== attempts.length;
    const beyondClaims = attempts.some((a) => a > task.attempts);
    const doneTwice = (doneTimes.get(task.id) ?? 0) > 1;
    if (sameClaimTwice || beyondClaims || doneTwice) duplicated++;
    else if (distinct.size > 1) reRun++;
  }
  return {
    scenario: options.scenario,
    requests: ledger.entries.length,
    ok: ledger.count("ok"),
    failed: ledger.count("failed"),
    unknown: ledger.count("unknown"),
    "5xx": ledger.entries.filter((e) => (e.status ?? 0) >= 500).length,
    lost,
    duplicated,
    unexpected,
    recovered,
    stuck,
    "re-run": reRun,
    "recovery s": options.recoverySeconds,
  };
}

/** The reports as a fixed-width table, one scenario a line. */
export function formatReports(reports: readonly ChaosReport[]): string {
  if (reports.length === 0) return "(no scenario ran)";
  const columns = Object.keys(reports[0] as ChaosReport) as (keyof ChaosReport)[];
  const cells = reports.map((r) => columns.map((c) => String(r[c] ?? "—")));
  const widths = columns.map((c, i) =>
    Math.max(c.length, ...cells.map((row) => row[i]?.length ?? 0)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0)))
      .join("  ");
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

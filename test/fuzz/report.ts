import type { Verdict } from "./conformance.ts";
import type { Answer } from "./http-sender.ts";
import type { Route } from "./openapi.ts";
import type { RequestCase } from "./request-cases.ts";

/** The run's size, seed and replay selection, from the environment (defaults for CI). */
export interface FuzzSettings {
  runs: number;
  seed: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** TASKFLOW_FUZZ_CASES: replay only these cases of the run. */
  only: Set<number> | undefined;
}

/** A fixed seed: CI runs the same cases every time; a new seed is a new exploration. */
export const DEFAULT_SEED = 20_260_507;

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name}=${raw}: a whole number, please`);
  return value;
}

export function fuzzSettings(
  defaultRuns = 10_000,
  runsVariable = "TASKFLOW_FUZZ_RUNS",
): FuzzSettings {
  const only = process.env.TASKFLOW_FUZZ_CASES;
  return {
    runs: positiveInteger(runsVariable, defaultRuns),
    seed: positiveInteger("TASKFLOW_FUZZ_SEED", DEFAULT_SEED),
    concurrency: Math.max(1, positiveInteger("TASKFLOW_FUZZ_CONCURRENCY", 8)),
    only: only ? new Set(only.split(",").map((index) => Number(index.trim()))) : undefined,
  };
}

const increment = <K>(map: Map<K, number>, key: K, by = 1) =>
  map.set(key, (map.get(key) ?? 0) + by);

/** Counts per route, status, kind and target, and the findings grouped by what went wrong. */
export class Tally {
  tried = 0;
  findingCount = 0;
  readonly byRoute = new Map<string, Map<number, number>>();
  readonly byStatus = new Map<number, number>();
  readonly byKind = new Map<string, number>();
  readonly byTarget = new Map<string, number>();
  readonly byAuth = new Map<string, number>();
  /** By the problem's kind and the operation: how often, and the first example. */
  readonly findings = new Map<string, { count: number; example: string; problem: string }>();

  record(c: RequestCase, answer: Answer, verdict: Verdict, describe: () => string) {
    this.tried++;
    const statuses = this.byRoute.get(c.route) ?? new Map<number, number>();
    increment(statuses, answer.status);
    this.byRoute.set(c.route, statuses);
    increment(this.byStatus, answer.status);
    increment(this.byKind, c.kind);
    increment(this.byTarget, c.target);
    increment(this.byAuth, c.auth);
    if (verdict.problems.length === 0) return;
    this.findingCount++;
    const where = verdict.route?.key ?? `${c.method} (no route)`;
    for (const problem of verdict.problems) {
      // Grouped by the problem's words before any detail, per operation and target.
      const key = `${where} · ${c.target} · ${problem.split(":")[0]}`;
      const seen = this.findings.get(key);
      if (seen) seen.count++;
      else this.findings.set(key, { count: 1, example: describe(), problem });
    }
  }

  report(options: { settings: FuzzSettings; seconds: number; routes: readonly Route[] }): string {
    const { settings, seconds } = options;
    const list = (map: Map<string | number, number>) =>
      [...map.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, count]) => `${key}: ${count}`)
        .join(" · ");
    const width = Math.max(...options.routes.map((r) => r.key.length), 10);
    const lines = [
      "",
      `API fuzzing: ${this.tried} requests tried in ${seconds.toFixed(1)} s (${(this.tried / Math.max(seconds, 0.001)).toFixed(0)}/s)` +
        ` — seed ${settings.seed} (replay: TASKFLOW_FUZZ_SEED=${settings.seed} TASKFLOW_FUZZ_RUNS=${settings.runs}` +
        ` [TASKFLOW_FUZZ_CASES=<index,…>])`,
      `  targets: ${list(this.byTarget)}`,
      `  callers: ${list(this.byAuth)}`,
      `  kinds:   ${list(this.byKind)}`,
      `  statuses: ${list(this.byStatus)}`,
      "",
      `  ${"route".padEnd(width)}  tried  statuses`,
      ...options.routes.map((route) => {
        const statuses = this.byRoute.get(route.key) ?? new Map<number, number>();
        const tried = [...statuses.values()].reduce((a, b) => a + b, 0);
        return `  ${route.key.padEnd(width)}  ${String(tried).padStart(5)}  ${list(statuses)}`;
      }),
      "",
      `  findings: ${this.findingCount} requests` +
        (this.findings.size > 0 ? `, ${this.findings.size} kinds:` : ""),
      ...[...this.findings.entries()]
        .sort(([, a], [, b]) => b.count - a.count)
        .map(
          ([key, { count, example, problem }]) =>
            `  ✗ ${count}× ${key}\n      ${problem}\n      e.g. ${example}`,
        ),
    ];
    return lines.join("\n");
  }
}

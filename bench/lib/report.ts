import os from "node:os";
import type { GroupFigures, MachineFigures, ProcessFigures } from "./procstat.ts";
import { dec, mb, median, pad, padLeft } from "./util.ts";

/** What a run measured per process and engine, and the machine's CPU, for `count` items. */
export interface CpuFigures {
  processes: ProcessFigures[];
  engines: GroupFigures[];
  machine: MachineFigures;
}

/**
 * The table every benchmark prints: each process's RSS and CPU, each engine's CPU, the
 * machine's, all per `unit` (task, order) over the `count` the run accepted.
 */
export function processTable(run: CpuFigures, count: number, unit: string): string[] {
  const per = (cpu: number) => (count ? (cpu * 1000) / count : Number.NaN);
  const perHeader = `CPU ms/${unit}`;
  const perWidth = perHeader.length + 2;
  const lines = [
    `${pad("process", 18)}${padLeft("peak RSS", 9)}${padLeft("idle RSS", 10)}${padLeft("load RSS", 10)}${padLeft("CPU s", 8)}${padLeft(perHeader, perWidth)}${padLeft("CPU s life", 12)}${padLeft("idle CPU", 10)}`,
  ];
  for (const p of run.processes) {
    lines.push(
      `${pad(p.name === "bench" ? "bench (loadgen)" : p.name, 18)}${padLeft(mb(p.peakRssKb), 9)}${padLeft(mb(p.idleRssKb), 10)}${padLeft(mb(p.loadRssKb), 10)}${padLeft(dec(p.windowCpuSeconds, 2), 8)}${padLeft(dec(per(p.windowCpuSeconds), 3), perWidth)}${padLeft(dec(p.totalCpuSeconds, 2), 12)}${padLeft(`${dec(p.idleCpuPercent, 0)} %`, 10)}`,
    );
  }
  for (const g of run.engines) {
    lines.push(
      `${pad(`${g.name} (${g.processes} procs)`, 18)}${padLeft("", 29)}${padLeft(dec(g.windowCpuSeconds, 2), 8)}${padLeft(dec(per(g.windowCpuSeconds), 3), perWidth)}${padLeft("", 12)}${padLeft(`${dec(g.idleCpuPercent, 0)} %`, 10)}`,
    );
  }
  const m = run.machine;
  const accounted =
    run.processes.reduce((s, p) => s + p.windowCpuSeconds, 0) +
    run.engines.reduce((s, g) => s + g.windowCpuSeconds, 0);
  lines.push(
    `machine: ${dec(m.busyCpuSeconds, 2)} CPU s busy in ${dec(m.windowSeconds, 2)} s × ${m.cores} cores (${dec((100 * m.busyCpuSeconds) / (m.windowSeconds * m.cores), 0)} %); CPU per ${unit} ${dec(per(m.busyCpuSeconds), 3)} ms; not accounted above (other processes, kernel) ${dec(m.busyCpuSeconds - accounted, 2)} s`,
  );
  return lines;
}

/** One figure over the repetitions: the median [min–max], or the value when there is one. */
export function medianRange(values: number[], format: (n: number) => string): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length <= 1) return format(values[0] ?? Number.NaN);
  return `${format(median(values))} [${format(Math.min(...finite))}–${format(Math.max(...finite))}]`;
}

/** A whole number ≥ 1 from a command-line option, or an error naming the option. */
export function positiveOption(name: string, text: string): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive whole number`);
  return v;
}

/** The environment of the roles a bench starts: this one's, without any TASKFLOW_* setting of the shell. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("TASKFLOW_") || k === "NODE_OPTIONS" || k.startsWith("npm_")) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Every figure of a bench as one JSON block (`--json`), after the tables. */
export function printJson(options: object, raw: unknown, runs: unknown): void {
  const machine = { cpus: os.cpus().length, node: process.version };
  console.log("\nJSON:");
  console.log(JSON.stringify({ options, machine, raw, runs }, null, 2));
}

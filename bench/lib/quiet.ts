import { readMachineCpu, readProc } from "./procstat.ts";
import { dec, sleep } from "./util.ts";

/** Below this many busy cores (other processes than ours), the machine counts as quiet. */
export const QUIET_CORES = 0.3;

/** Busy cores over one second, all processes but `ours` (this one and its children). */
export async function busyCores(ours: readonly number[]): Promise<number> {
  const cpuOfOurs = () => ours.reduce((sum, pid) => sum + (readProc(pid)?.cpuSeconds ?? 0), 0);
  const a = readMachineCpu();
  const oursA = cpuOfOurs();
  await sleep(1_000);
  const b = readMachineCpu();
  const oursB = cpuOfOurs();
  return (b.busy - a.busy - (oursB - oursA)) / ((b.total - a.total) / b.cores);
}

/**
 * The machine is shared: waits (up to `seconds`) until other processes leave the cores
 * alone. Answers "" when it was quiet, else a note for the report.
 */
export async function waitQuiet(
  seconds: number,
  children: readonly number[] = [],
): Promise<string> {
  if (seconds <= 0) return "";
  const started = performance.now();
  const ours = [process.pid, ...children];
  let busy = await busyCores(ours);
  if (busy < QUIET_CORES) return "";
  process.stdout.write(
    `  (machine busy: ${dec(busy, 2)} cores in use by other processes; waiting up to ${seconds} s…`,
  );
  while (performance.now() - started < seconds * 1000) {
    busy = await busyCores(ours);
    if (busy < QUIET_CORES) {
      console.log(` quiet after ${dec((performance.now() - started) / 1000, 0)} s)`);
      return "";
    }
  }
  console.log(" still busy: measuring anyway)");
  return `the machine was busy before this measurement (${dec(busy, 2)} cores used by other processes)`;
}

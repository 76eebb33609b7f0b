import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Kernel clock ticks per second (utime/stime unit in /proc/<pid>/stat). */
export const CLK_TCK = (() => {
  try {
    const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
})();

export interface ProcSample {
  /** utime + stime, in seconds. */
  cpuSeconds: number;
  /** VmRSS now, kB. */
  rssKb: number;
  /** VmHWM (peak RSS since the process started), kB. */
  hwmKb: number;
}

function readCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** CPU seconds and memory of one process; undefined once it has exited. */
export function readProc(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name: string) => {
      const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status);
      return match ? Number(match[1]) : 0;
    };
    const cpuSeconds = readCpuSeconds(pid);
    if (cpuSeconds === undefined) return undefined;
    return { cpuSeconds, rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU: busy and total seconds summed over all cores, since boot. */
export function readMachineCpu(): { busy: number; total: number; cores: number } {
  const text = readFileSync("/proc/stat", "utf8");
  const first = text.split("\n")[0] ?? "";
  const v = first.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  const cores = text.split("\n").filter((line) => /^cpu\d+ /.test(line)).length || 1;
  return { busy: (total - idle - iowait) / CLK_TCK, total: total / CLK_TCK, cores };
}

/** CPU seconds of every process whose command name is one of `names` (e.g. the database server). */
function groupCpu(names: readonly string[]): Map<number, number> {
  const found = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      if (!names.includes(comm)) continue;
      const cpu = readCpuSeconds(pid);
      if (cpu !== undefined) found.set(pid, cpu);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

interface Tracked {
  name: string;
  pid: number;
  last?: ProcSample;
  /** Highest VmRSS seen by the sampler inside the load window. */
  windowPeakRssKb: number;
  /** VmRSS when the load window opened (idle, after readiness). */
  idleRssKb?: number;
  cpuAtStart?: number;
  cpuAtEnd?: number;
  cpuAtIdle?: number;
  idleCpuPercent?: number;
}

export interface ProcessFigures {
  name: string;
  pid: number;
  /** VmHWM: peak RSS over the process's life. */
  peakRssKb: number;
  idleRssKb: number | undefined;
  /** Highest RSS sampled during the load window. */
  loadRssKb: number;
  /** CPU seconds inside the load window. */
  windowCpuSeconds: number;
  /** CPU seconds over the process's life (start-up and TypeScript compilation included). */
  totalCpuSeconds: number;
  /** % of one core used while idle (after readiness, before the load). */
  idleCpuPercent: number | undefined;
}

export interface GroupFigures {
  name: string;
  processes: number;
  windowCpuSeconds: number;
  idleCpuPercent: number | undefined;
}

export interface MachineFigures {
  cores: number;
  windowSeconds: number;
  busyCpuSeconds: number;
}

/** External processes whose CPU is worth knowing: the engines themselves. */
export const ENGINE_GROUPS: Record<string, readonly string[]> = {
  postgres: ["postgres"],
  rabbitmq: ["beam.smp"],
};

/** The event stream engines, by command name (Kafka's broker is a JVM: every `java` counts). */
export const STREAM_ENGINE_GROUPS: Record<string, readonly string[]> = {
  kafka: ["java"],
  redis: ["redis-server"],
  nats: ["nats-server"],
};

/**
 * Samples tracked processes every `intervalMs` (VmRSS, VmHWM, utime+stime) and measures CPU
 * over one load window, for tracked processes, engine process groups and the whole machine.
 */
export class ProcSampler {
  private readonly tracked: Tracked[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inWindow = false;
  private groupsAtStart = new Map<string, Map<number, number>>();
  private groupsAtEnd = new Map<string, Map<number, number>>();
  private machineAtStart: ReturnType<typeof readMachineCpu> | undefined;
  private machineAtEnd: ReturnType<typeof readMachineCpu> | undefined;
  private windowStartedAt = 0;
  private idleStartedAt = 0;
  private idleClosed = false;
  private groupsAtIdle = new Map<string, Map<number, number>>();
  private groupIdlePercent = new Map<string, number>();
  private windowEndedAt = 0;

  /** `engineGroups`: the engine process groups to measure (by command name; default ENGINE_GROUPS). */
  constructor(
    private readonly intervalMs = 200,
    private readonly engineGroups: Record<string, readonly string[]> = ENGINE_GROUPS,
  ) {}

  track(name: string, pid: number): void {
    const t: Tracked = { name, pid, windowPeakRssKb: 0 };
    const sample = readProc(pid);
    if (sample) t.last = sample;
    this.tracked.push(t);
  }

  start(): void {
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  private sample(): void {
    for (const t of this.tracked) {
      const s = readProc(t.pid);
      if (!s) continue;
      t.last = s;
      if (this.inWindow) t.windowPeakRssKb = Math.max(t.windowPeakRssKb, s.rssKb);
    }
  }

  /** Current RSS of a tracked process, kB. */
  rssOf(name: string): number | undefined {
    const t = this.tracked.find((x) => x.name === name);
    return t ? readProc(t.pid)?.rssKb : undefined;
  }

  /** Opens an idle period (no load) that `markIdleEnd` closes: idle CPU % per process. */
  markIdleStart(): void {
    this.sample();
    for (const t of this.tracked) t.cpuAtIdle = t.last?.cpuSeconds;
    for (const [group, names] of Object.entries(this.engineGroups)) {
      this.groupsAtIdle.set(group, groupCpu(names));
    }
    this.idleStartedAt = performance.now();
  }

  /** Closes the idle period: idle CPU % and idle RSS (`markWindowStart` does it if not done). */
  markIdleEnd(): void {
    this.idleClosed = true;
    this.sample();
    const idleSeconds = (performance.now() - this.idleStartedAt) / 1000;
    if (this.idleStartedAt) {
      for (const t of this.tracked) {
        if (t.cpuAtIdle !== undefined && t.last)
          t.idleCpuPercent = (100 * (t.last.cpuSeconds - t.cpuAtIdle)) / idleSeconds;
      }
      for (const [group, names] of Object.entries(this.engineGroups)) {
        const start = this.groupsAtIdle.get(group) ?? new Map<number, number>();
        let cpu = 0;
        for (const [pid, seconds] of groupCpu(names)) cpu += seconds - (start.get(pid) ?? 0);
        this.groupIdlePercent.set(group, (100 * cpu) / idleSeconds);
      }
    }
    this.idleStartedAt = 0;
    for (const t of this.tracked) t.idleRssKb = t.last?.rssKb;
  }

  markWindowStart(): void {
    if (this.idleClosed) this.sample();
    else this.markIdleEnd();
    for (const t of this.tracked) {
      t.cpuAtStart = t.last?.cpuSeconds;
      t.windowPeakRssKb = t.last?.rssKb ?? 0;
    }
    for (const [group, names] of Object.entries(this.engineGroups)) {
      this.groupsAtStart.set(group, groupCpu(names));
    }
    this.machineAtStart = readMachineCpu();
    this.windowStartedAt = performance.now();
    this.inWindow = true;
  }

  markWindowEnd(): void {
    this.sample();
    this.inWindow = false;
    this.windowEndedAt = performance.now();
    this.machineAtEnd = readMachineCpu();
    for (const t of this.tracked) t.cpuAtEnd = t.last?.cpuSeconds;
    for (const [group, names] of Object.entries(this.engineGroups)) {
      this.groupsAtEnd.set(group, groupCpu(names));
    }
  }

  processes(): ProcessFigures[] {
    return this.tracked.map((t) => ({
      name: t.name,
      pid: t.pid,
      peakRssKb: Math.max(t.last?.hwmKb ?? 0, t.windowPeakRssKb),
      idleRssKb: t.idleRssKb,
      loadRssKb: t.windowPeakRssKb,
      windowCpuSeconds: (t.cpuAtEnd ?? 0) - (t.cpuAtStart ?? 0),
      totalCpuSeconds: t.last?.cpuSeconds ?? 0,
      idleCpuPercent: t.idleCpuPercent,
    }));
  }

  /** Engine process groups: CPU inside the window (processes that died meanwhile are missed). */
  groups(): GroupFigures[] {
    return Object.keys(this.engineGroups).map((group) => {
      const start = this.groupsAtStart.get(group) ?? new Map<number, number>();
      const end = this.groupsAtEnd.get(group) ?? new Map<number, number>();
      let cpu = 0;
      for (const [pid, seconds] of end) cpu += seconds - (start.get(pid) ?? 0);
      return {
        name: group,
        processes: end.size,
        windowCpuSeconds: cpu,
        idleCpuPercent: this.groupIdlePercent.get(group),
      };
    });
  }

  /** One engine group's CPU seconds inside the window, per process id. */
  groupCpuByPid(group: string): Map<number, number> {
    const start = this.groupsAtStart.get(group) ?? new Map<number, number>();
    const byPid = new Map<number, number>();
    for (const [pid, seconds] of this.groupsAtEnd.get(group) ?? [])
      byPid.set(pid, seconds - (start.get(pid) ?? 0));
    return byPid;
  }

  machine(): MachineFigures {
    const start = this.machineAtStart;
    const end = this.machineAtEnd;
    return {
      cores: end?.cores ?? 1,
      windowSeconds: (this.windowEndedAt - this.windowStartedAt) / 1000,
      busyCpuSeconds: start && end ? end.busy - start.busy : Number.NaN,
    };
  }
}

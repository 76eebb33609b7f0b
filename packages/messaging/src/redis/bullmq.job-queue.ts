import { type Job, Queue, QueueEvents, QueueKeys, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { DEFAULT_JOB_PRIORITY, deliver, failureReason, firstOfEachId } from "../job-options.ts";
import {
  type JobChange,
  type JobChangeListener,
  type JobCounts,
  type JobHandler,
  type JobProcessor,
  type JobQueue,
  type JobState,
  type JobView,
  MAX_CHANGE_REASON_LENGTH,
  PermanentJobError,
} from "../job-queue.ts";

export interface BullMqJobQueueOptions {
  url: string;
  /** BullMQ queue name (no ":"). */
  queue: string;
  /** Prefix of every Redis key of the queue (BullMQ's default: "bull"). */
  prefix?: string;
  /**
   * How long a running job belongs to its worker (renewed while it runs). A worker that
   * stops renewing (it crashed) has its job run again by another one, within about twice this.
   */
  lockMs?: number;
  onError?: (error: Error) => void;
}

/** How long `close()` of a processor waits for running jobs unless told otherwise. */
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** Finished jobs stay this long (and at most this many) so that their ids keep deduplicating. */
const KEEP_COMPLETED = { age: 24 * 3600, count: 100_000 };
/**
 * A job whose worker died mid-run is run again; after this many such stalls it is failed, so
 * a job that kills its process cannot loop forever.
 */
const MAX_STALLS = 2;

/**
 * Our priorities 0 (first) … 9 (last) become BullMQ's 1 … 10 (1 runs first). BullMQ's 0 means
 * "no priority" and runs before every prioritized job, so it is never used: every job has a
 * priority and the order among them is exactly ours.
 */
function toBullMqPriority(priority: number): number {
  return priority + 1;
}

function fromBullMqPriority(priority: number): number {
  return priority >= 1 ? priority - 1 : DEFAULT_JOB_PRIORITY;
}

// A job's Redis key is `<prefix>:<queue>:<id>`, next to the queue's own keys
// (`<prefix>:<queue>:marker`, …:wait, …): a job id equal to one of their names would clash.
const RESERVED_IDS = new Set(Object.keys(new QueueKeys().getKeys("queue")));

/**
 * BullMQ refuses custom ids that look like integers or contain ":", and an id named like one
 * of the queue's keys breaks the queue. Such ids are stored as "%" + the id with "%" and ":"
 * escaped; any other id is stored as it is (it contains no "%", so the forms cannot collide).
 */
function toBullMqJobId(id: string): string {
  const plain =
    !id.includes(":") &&
    !id.includes("%") &&
    `${Number.parseInt(id, 10)}` !== id &&
    !RESERVED_IDS.has(id);
  return plain ? id : `%${id.replaceAll("%", "%25").replaceAll(":", "%3A")}`;
}

function fromBullMqJobId(stored: string): string {
  if (!stored.startsWith("%")) return stored;
  return stored.slice(1).replaceAll("%3A", ":").replaceAll("%25", "%");
}

/** BullMQ's own states, in ours: a prioritized job is a waiting one. */
function toJobState(state: string): JobState | undefined {
  switch (state) {
    case "waiting":
    case "wait":
    case "prioritized":
    case "waiting-children":
      return "waiting";
    case "delayed":
    case "active":
    case "completed":
    case "failed":
      return state;
    default:
      return undefined;
  }
}

const BULLMQ_TYPES = {
  waiting: ["wait", "prioritized"],
  delayed: ["delayed"],
  active: ["active"],
  completed: ["completed"],
  failed: ["failed"],
} as const satisfies Record<JobState, readonly string[]>;

/**
 * The Redis adapter, on BullMQ: a `Queue` for adding and reading (on a connection that fails
 * commands after a few reconnection attempts, so callers notice an outage), and one `Worker`
 * per `process` (on its own connection that waits through outages, as BullMQ requires).
 * Retries use BullMQ's exponential backoff; PermanentJobError becomes its UnrecoverableError.
 */
export function createBullMqJobQueue(options: BullMqJobQueueOptions): JobQueue {
  const { url, queue: name } = options;
  const lockMs = options.lockMs ?? 30_000;
  const report = (error: Error) => options.onError?.(error);
  const prefix = options.prefix ? { prefix: options.prefix } : {};

  const client = new Redis(url, { maxRetriesPerRequest: 3 });
  client.on("error", report);
  const queue = new Queue<unknown, unknown, string>(name, { connection: client, ...prefix });
  queue.on("error", report);
  const processors = new Set<BullMqJobProcessor>();
  const watchers = new JobWatchers(url, queue, client, { ...prefix, report });

  const toView = async (job: Job<unknown, unknown, string>, state: JobState) => {
    if (!job.id) return undefined;
    // The delayed set's score is the time the job may run, times 4096 (plus a tie-breaker).
    const score = state === "delayed" ? await client.zscore(queue.toKey("delayed"), job.id) : null;
    return {
      id: fromBullMqJobId(job.id),
      name: job.name,
      data: job.data,
      state,
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      priority: fromBullMqPriority(job.priority),
      failedReason: job.failedReason || null,
      result: job.returnvalue ?? null,
      createdAt: new Date(job.timestamp),
      runAt: score === null ? null : new Date(Math.floor(Number(score) / 0x1000)),
      finishedAt: job.finishedOn ? new Date(job.finishedOn) : null,
    } satisfies JobView;
  };

  return {
    engine: "redis",
    name,

    async add(jobs) {
      const fresh = firstOfEachId(jobs);
      if (fresh.length === 0) return;
      // A job id BullMQ already holds is not added again (it answers with the existing job).
      await queue.addBulk(
        fresh.map((job) => ({
          name: job.name,
          data: job.data,
          opts: {
            jobId: toBullMqJobId(job.jobId),
            attempts: job.attempts,
            backoff: { type: "exponential", delay: job.backoffMs },
            delay: job.delayMs,
            priority: toBullMqPriority(job.priority),
            removeOnComplete: KEEP_COMPLETED,
            removeOnFail: false,
            // BullMQ's slot for propagated context (its own telemetry is not enabled here).
            ...(job.headers && { telemetry: { metadata: JSON.stringify(job.headers) } }),
          },
        })),
      );
    },

    async process(handler: JobHandler, { concurrency }) {
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new RangeError("concurrency must be a whole number ≥ 1");
      }
      const processor = new BullMqJobProcessor(url, name, handler, {
        concurrency,
        lockMs,
        ...prefix,
        report,
      });
      processors.add(processor);
      await processor.start();
      return {
        get running() {
          return processor.running;
        },
        async close(timeoutMs = DEFAULT_CLOSE_TIMEOUT_MS) {
          processors.delete(processor);
          await processor.close(timeoutMs);
        },
      } satisfies JobProcessor;
    },

    async counts() {
      const counts = await queue.getJobCounts(
        "wait",
        "prioritized",
        "delayed",
        "active",
        "completed",
        "failed",
      );
      return {
        waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0),
        delayed: counts.delayed ?? 0,
        active: counts.active ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
      } satisfies JobCounts;
    },

    async list(state: JobState, limit: number) {
      if (limit <= 0) return [];
      const jobs = await queue.getJobs([...BULLMQ_TYPES[state]], 0, limit - 1, false);
      const views = await Promise.all(jobs.map((job) => toView(job, state)));
      // Waiting jobs come from two lists (plain and prioritized): newest first across both.
      return views
        .filter((view) => view !== undefined)
        .sort((a, b) =>
          state === "completed" || state === "failed"
            ? (b.finishedAt?.getTime() ?? 0) - (a.finishedAt?.getTime() ?? 0)
            : b.createdAt.getTime() - a.createdAt.getTime(),
        )
        .slice(0, limit);
    },

    async get(jobId: string) {
      // The state first: read after it, the job's fields are at least as new (a job that is
      // "delayed" for a retry shows the failed attempt).
      const bullId = toBullMqJobId(jobId);
      const state = toJobState(await queue.getJobState(bullId));
      if (!state) return undefined;
      const job = await queue.getJob(bullId);
      return job ? toView(job, state) : undefined;
    },

    async retry(jobId: string, retryOptions?: { data?: unknown }) {
      const job = await queue.getJob(toBullMqJobId(jobId));
      if (!job || (await job.getState()) !== "failed") return false;
      // The payload first: once retried, a worker may take the job at once.
      if (retryOptions?.data !== undefined) await job.updateData(retryOptions.data);
      await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    },

    async remove(jobId: string) {
      const job = await queue.getJob(toBullMqJobId(jobId));
      // BullMQ refuses only a locked job; one whose lock ran out (its worker died) is still
      // active to us, and its stalled-job check is about to run it again.
      if (!job || (await job.getState()) === "active") return false;
      try {
        await job.remove();
        return true;
      } catch {
        // Locked: a worker took it between the two calls.
        return false;
      }
    },

    watch: (listener) => watchers.add(listener),

    async ping() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Redis did not answer (${client.status})`)),
          2_000,
        );
      });
      try {
        await Promise.race([client.ping(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },

    async close() {
      const running = [...processors];
      processors.clear();
      await Promise.all(running.map((p) => p.close(DEFAULT_CLOSE_TIMEOUT_MS)));
      await watchers.close();
      await queue.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

class BullMqJobProcessor {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly connection: Redis;
  private readonly worker: Worker<unknown, unknown, string>;
  private closing: Promise<void> | undefined;

  constructor(
    url: string,
    name: string,
    private readonly handler: JobHandler,
    options: {
      concurrency: number;
      lockMs: number;
      prefix?: string;
      report: (error: Error) => void;
    },
  ) {
    // Workers block on Redis and must wait through outages: no per-command retry limit.
    this.connection = new Redis(url, { maxRetriesPerRequest: null });
    this.connection.on("error", options.report);
    this.worker = new Worker<unknown, unknown, string>(name, (job) => this.run(job), {
      connection: this.connection,
      ...(options.prefix ? { prefix: options.prefix } : {}),
      concurrency: options.concurrency,
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
      maxStalledCount: MAX_STALLS,
      autorun: false,
    });
    this.worker.on("error", options.report);
  }

  get running() {
    return this.inFlight.size;
  }

  async start() {
    await this.worker.waitUntilReady();
    // run() resolves only when the worker stops; its failures reach the "error" listener.
    void this.worker.run().catch((error: Error) => this.worker.emit("error", error));
  }

  private run(job: Job<unknown, unknown, string>): Promise<unknown> {
    const running = (async () =>
      this.handler({
        id: fromBullMqJobId(job.id ?? ""),
        name: job.name,
        data: job.data,
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
        headers: headersOf(job.opts.telemetry?.metadata),
      }))().catch((error: unknown) => {
      // BullMQ fails an UnrecoverableError at once, whatever attempts remain.
      if (error instanceof PermanentJobError) throw new UnrecoverableError(error.message);
      throw error instanceof Error ? error : new Error(failureReason(error));
    });
    this.inFlight.add(running);
    const forget = () => this.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  /**
   * Takes no new jobs, waits up to `timeoutMs` for the running ones (and for BullMQ to record
   * their outcome), then stops. A job still running after that keeps its lock until it runs
   * out; then another worker's stalled-job check runs it again.
   */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= (async () => {
      await this.worker.pause(true);
      let late = false;
      let timeout: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timeout = setTimeout(() => {
          late = true;
          resolve();
        }, timeoutMs);
      });
      // Again while jobs remain: a fetch in flight when the pause came may still start one.
      while (this.inFlight.size > 0 && !late) {
        await Promise.race([Promise.allSettled([...this.inFlight]), timedOut]);
      }
      clearTimeout(timeout);
      await this.worker.close(this.inFlight.size > 0);
      await this.connection.quit().catch(() => this.connection.disconnect());
    })();
    return this.closing;
  }
}

/** BullMQ's events that are a change of state, as ours. */
const STATE_EVENTS = {
  waiting: "waiting",
  delayed: "delayed",
  active: "active",
  completed: "completed",
  failed: "failed",
} as const satisfies Record<string, JobState>;

/**
 * The watchers of one queue: one QueueEvents (BullMQ's reader of the queue's event stream, on
 * a connection of its own, as it blocks) while anyone watches, closed when the last one
 * leaves. An event names the job only by id: its name and attempts are read from the job, all
 * lookups in flight at once, the changes delivered in the stream's order.
 */
class JobWatchers {
  private readonly listeners = new Set<JobChangeListener>();
  private events: { queueEvents: QueueEvents; connection: Redis } | undefined;
  /** Opening and closing, one after the other. */
  private lifecycle: Promise<unknown> = Promise.resolve();
  /** The last change handed on: the next one waits for it, so they keep their order. */
  private delivered: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly queue: Queue<unknown, unknown, string>,
    private readonly client: Redis,
    private readonly options: { prefix?: string; report: (error: Error) => void },
  ) {}

  private readonly report = (error: Error) => this.options.report(error);

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.lifecycle.then(step, step);
    this.lifecycle = run.catch(() => {});
    return run;
  }

  async add(listener: JobChangeListener): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    try {
      await this.serially(async () => {
        if (!this.events && this.listeners.size > 0) this.events = await this.open();
      });
    } catch (error) {
      this.listeners.delete(listener);
      throw error;
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      this.listeners.delete(listener);
      await this.serially(async () => {
        if (this.listeners.size === 0) await this.shut();
      });
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.serially(() => this.shut());
  }

  private async open() {
    // From the stream's last entry now: what happens once watch() resolved is reported,
    // nothing from before ("$", QueueEvents' default, would start at its first read).
    const [last] = await this.client.xrevrange(this.queue.toKey("events"), "+", "-", "COUNT", 1);
    const connection = new Redis(this.url, { maxRetriesPerRequest: null });
    connection.on("error", this.report);
    const queueEvents = new QueueEvents(this.queue.name, {
      connection,
      ...(this.options.prefix ? { prefix: this.options.prefix } : {}),
      lastEventId: last?.[0] ?? "0-0",
    });
    queueEvents.on("error", this.report);
    for (const [event, state] of Object.entries(STATE_EVENTS)) {
      queueEvents.on(event as keyof typeof STATE_EVENTS, (args: { jobId: string }) =>
        this.changed(args.jobId, state, (args as { failedReason?: string }).failedReason),
      );
    }
    try {
      await queueEvents.waitUntilReady();
    } catch (error) {
      await queueEvents.close().catch(() => {});
      connection.disconnect();
      throw error;
    }
    return { queueEvents, connection };
  }

  private async shut() {
    const events = this.events;
    this.events = undefined;
    if (!events) return;
    await events.queueEvents.close().catch(this.report);
    await events.connection.quit().catch(() => events.connection.disconnect());
  }

  private changed(bullId: string, state: JobState, failedReason: string | undefined) {
    const looked = this.client
      .hmget(this.queue.toKey(bullId), "name", "ats", "atm")
      .catch((error: Error) => {
        this.report(error);
        return undefined;
      });
    this.delivered = this.delivered.then(async () => {
      const fields = await looked;
      const [name, started, made] = fields ?? [];
      // Purged already (or not readable): there is no job left to name.
      if (!name) return;
      const change: JobChange = {
        queue: this.queue.name,
        id: fromBullMqJobId(bullId),
        name,
        state,
        attempts: Number(started ?? made ?? 0),
      };
      if (state === "failed") {
        change.failedReason = (failedReason ?? "").slice(0, MAX_CHANGE_REASON_LENGTH);
      }
      for (const listener of this.listeners) deliver(listener, change);
    });
  }
}

/** The headers a job was added with (kept as JSON in its telemetry metadata). */
function headersOf(metadata: string | undefined): Record<string, string> {
  if (!metadata) return {};
  try {
    const parsed: unknown = JSON.parse(metadata);
    if (!parsed || typeof parsed !== "object") return {};
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value === "string") headers[name] = value;
    }
    return headers;
  } catch {
    return {};
  }
}

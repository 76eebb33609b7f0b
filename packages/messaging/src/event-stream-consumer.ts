import type { StoredRecord } from "./event-stream.ts";

/**
 * The consuming loop the Redis, NATS and embedded event streams share: one active consumer
 * per (topic, group) holding a lease, reading a batch, handing it to the handler, committing
 * it through the engine once the handler resolved. What "lease", "read" and "commit" are
 * belongs to each engine (advisory lock and offsets table; SET NX and XACK; a JetStream
 * compare-and-set and acks).
 */

/** The right to be the one consumer of a (topic, group). */
export interface StreamLease {
  /** False once lost (its session dropped, or it could not be renewed in time). */
  readonly held: boolean;
  release(): Promise<void>;
}

export interface StreamReader<Batch> {
  /** Takes the group's lease, or answers undefined while another consumer holds it. */
  acquire(): Promise<StreamLease | undefined>;
  /**
   * At most `max` records the group has not committed, oldest first per partition, or
   * undefined if there are none. A reader that `blocks` waits for records for a while.
   */
  read(max: number): Promise<{ records: StoredRecord[]; batch: Batch } | undefined>;
  /** Commits the batch (its records are not read by the group again). */
  commit(batch: Batch): Promise<void>;
  /** Hands a batch back uncommitted (its handler failed, or the consumer is leaving). */
  giveBack?(batch: Batch): Promise<void>;
  /** Called every `keepAliveMs` while the handler holds the batch. */
  keepAlive?(batch: Batch): void;
  /** Ends a read that is waiting in the engine. */
  interrupt?(): void;
  /** Releases what the reader holds (a connection) once the loop is over. */
  end?(): Promise<void>;
}

export interface StreamConsumerOptions {
  maxBatch: number;
  retryDelayMs: number;
  /** How long to wait before looking again: for records (if `read` does not block), or for the lease. */
  pollMs: number;
  /** Whether `read` waits for records itself. */
  readBlocks: boolean;
  keepAliveMs?: number;
  onError?: (error: Error) => void;
}

const DEFAULT_MAX_BATCH = 500;
const DEFAULT_RETRY_DELAY_MS = 1_000;

/** The port's defaults applied to a consume() call's options. */
export function consumeDefaults(options?: { maxBatch?: number; retryDelayMs?: number }) {
  const maxBatch = options?.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error("maxBatch must be >= 1");
  return { maxBatch, retryDelayMs: options?.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS };
}

export class StreamConsumer<Batch> {
  private state: "running" | "stopping" | "abandoned" = "running";
  private lease: StreamLease | undefined;
  private inFlight: { batch: Batch } | undefined;
  private woken = false;
  private sleeper: { wakeable: boolean; done: () => void } | undefined;
  private readonly finished: Promise<void>;

  constructor(
    private readonly reader: StreamReader<Batch>,
    private readonly handle: (batch: readonly StoredRecord[]) => Promise<void>,
    private readonly options: StreamConsumerOptions,
  ) {
    this.finished = this.run();
  }

  /** Whether this consumer holds the group's lease (the others stand by). */
  get active(): boolean {
    return this.state === "running" && (this.lease?.held ?? false);
  }

  /** Records were appended: look now rather than at the next poll. */
  wake() {
    this.woken = true;
    if (this.sleeper?.wakeable) this.sleeper.done();
  }

  /** Finishes and commits the batch being handled, then leaves the group's lease. */
  async stop() {
    if (this.state === "abandoned") return;
    if (this.state === "running") this.state = "stopping";
    this.sleeper?.done();
    this.reader.interrupt?.();
    await this.finished;
  }

  /** Leaves at once, as a crash would: the batch being handled is given back, not committed. */
  async abandon() {
    if (this.state === "abandoned") return;
    this.state = "abandoned";
    this.sleeper?.done();
    this.reader.interrupt?.();
    const held = this.inFlight;
    this.inFlight = undefined;
    if (held) await this.reader.giveBack?.(held.batch).catch((e) => this.report(e));
    await this.lease?.release().catch((e) => this.report(e));
    await this.reader.end?.().catch((e) => this.report(e));
  }

  private async run() {
    try {
      while (this.state === "running") {
        try {
          await this.step();
        } catch (error) {
          if (this.state !== "running") break;
          // The engine is unreachable or restarting: try again after a pause.
          this.report(error);
          await this.sleep(this.options.retryDelayMs, false);
        }
      }
    } finally {
      if (this.state !== "abandoned") {
        await this.lease?.release().catch((e) => this.report(e));
        await this.reader.end?.().catch((e) => this.report(e));
      }
    }
  }

  private async step() {
    if (!this.lease?.held) {
      this.lease = await this.reader.acquire();
      if (!this.lease) {
        await this.sleep(this.options.pollMs, false);
        return;
      }
    }
    this.woken = false;
    const read = await this.reader.read(this.options.maxBatch);
    if (this.state !== "running") {
      // Not handled: the engine keeps it for the group's next consumer.
      if (read) await this.reader.giveBack?.(read.batch);
      return;
    }
    if (!read) {
      if (!this.options.readBlocks) await this.sleep(this.options.pollMs, true);
      return;
    }
    const held = { batch: read.batch };
    this.inFlight = held;
    const { keepAliveMs } = this.options;
    const keepAlive =
      this.reader.keepAlive && keepAliveMs
        ? setInterval(() => {
            if (this.inFlight !== held) return clearInterval(keepAlive);
            try {
              this.reader.keepAlive?.(read.batch);
            } catch (error) {
              this.report(error);
            }
          }, keepAliveMs)
        : undefined;
    let failure: unknown;
    let handled = false;
    try {
      await this.handle(read.records);
      handled = true;
    } catch (error) {
      failure = error;
    } finally {
      clearInterval(keepAlive);
    }
    if (this.inFlight !== held) return; // abandoned meanwhile: given back already
    if (!handled) {
      this.inFlight = undefined;
      this.report(failure);
      await this.reader.giveBack?.(read.batch);
      await this.sleep(this.options.retryDelayMs, false);
      return;
    }
    try {
      // A lost lease means another consumer has the group now and reads these records again.
      if (this.lease.held) await this.reader.commit(read.batch);
    } finally {
      this.inFlight = undefined;
    }
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (this.state !== "running" || (wakeable && this.woken)) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper = {
        wakeable,
        done: () => {
          clearTimeout(timer);
          if (this.sleeper === sleeper) this.sleeper = undefined;
          resolve();
        },
      };
      const timer = setTimeout(sleeper.done, ms);
      this.sleeper = sleeper;
    });
  }

  private report(error: unknown) {
    this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * A lease that lives on a server with a time to live (a Redis key, a JetStream message),
 * renewed every third of it. It counts as lost as soon as a renewal is refused, or once a
 * whole `ttlMs` passed since the last renewal that got through (the server is unreachable:
 * another consumer may have taken it).
 */
export function renewingLease(
  ttlMs: number,
  server: { renew(): Promise<boolean>; release(): Promise<void> },
  onError?: (error: Error) => void,
): StreamLease {
  let validUntil = Date.now() + ttlMs;
  let lost = false;
  const timer = setInterval(async () => {
    const asked = Date.now();
    try {
      if (await server.renew()) validUntil = asked + ttlMs;
      else lost = true;
    } catch (error) {
      onError?.(error instanceof Error ? error : new Error(String(error)));
    }
    if (lost || Date.now() >= validUntil) clearInterval(timer);
  }, ttlMs / 3);
  timer.unref();
  return {
    get held() {
      return !lost && Date.now() < validUntil;
    },
    async release() {
      clearInterval(timer);
      if (lost) return;
      lost = true;
      await server.release();
    },
  };
}

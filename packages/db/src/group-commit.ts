/**
 * Group commit: callers submit one item each and wait for their own result, while the items
 * that arrive during a flush are written together by the next one (one transaction, one
 * fsync for many callers). An idle batcher flushes a lone item in the same turn of the event
 * loop, so latency under light load is one round of the flush, not a timer.
 */
export class GroupCommitter<In, Out> {
  private waiting: { item: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] =
    [];
  private inFlight = 0;

  constructor(
    /** Writes a batch; returns one result per item, in order. */
    private readonly flush: (items: In[]) => Promise<Out[]>,
    private readonly options: {
      maxBatch?: number;
      maxConcurrentFlushes?: number;
      /** Told each batch's size as it is written (a metric). */
      onFlush?: (size: number) => void;
    } = {},
  ) {}

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      // After this turn's I/O callbacks, not in a microtask: every request the event loop
      // read in this turn joins the batch (on PGlite, a flush blocks the loop while it runs,
      // so requests arrive in bursts).
      if (this.waiting.length === 1) setImmediate(() => this.drain());
    });
  }

  /** Items submitted and not yet written. */
  get pending(): number {
    return this.waiting.length;
  }

  /** Resolves once every submitted item has been written (or has failed). */
  async settled(): Promise<void> {
    while (this.waiting.length > 0 || this.inFlight > 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private drain() {
    const { maxBatch = 500, maxConcurrentFlushes = 1, onFlush } = this.options;
    while (this.inFlight < maxConcurrentFlushes && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, maxBatch);
      this.inFlight++;
      onFlush?.(batch.length);
      this.flush(batch.map((w) => w.item))
        .then(
          (results) => {
            if (results.length !== batch.length) {
              throw new Error(`flush returned ${results.length} results for ${batch.length} items`);
            }
            batch.forEach((w, i) => {
              w.resolve(results[i] as Out);
            });
          },
          (error: unknown) => {
            for (const w of batch) w.reject(error);
          },
        )
        .catch((error: unknown) => {
          for (const w of batch) w.reject(error);
        })
        .finally(() => {
          this.inFlight--;
          this.drain();
        });
    }
  }
}

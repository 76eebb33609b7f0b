import type { JobChange, JobQueue } from "@taskflow/messaging";

type Listener = (change: JobChange) => void;

/**
 * Fans the job queue's changes (`JobQueue.watch`: BullMQ's event stream, or the embedded
 * queue's NOTIFY) out to this API process's monitor streams. It watches the engine only while
 * someone listens: the first subscriber starts it, the last one to leave stops it, and so
 * does `close` (the app's).
 */
export function createJobEventHub(jobs: JobQueue, onError: (error: unknown) => void) {
  const listeners = new Set<Listener>();
  let watching: Promise<() => Promise<void>> | undefined;
  /** A stop in progress: the next start waits for it, so the engine sees them in order. */
  let stopping: Promise<void> = Promise.resolve();

  const dispatch = (change: JobChange) => {
    for (const listener of listeners) listener(change);
  };

  const stop = () => {
    const current = watching;
    watching = undefined;
    if (!current) return stopping;
    stopping = stopping
      .then(() => current)
      .then((unwatch) => unwatch())
      .catch(onError);
    return stopping;
  };

  return {
    async subscribe(listener: Listener): Promise<() => void> {
      listeners.add(listener);
      watching ??= stopping.then(() => jobs.watch(dispatch));
      const started = watching;
      try {
        await started;
      } catch (error) {
        listeners.delete(listener);
        // Not watching after all: the next subscriber tries again.
        if (watching === started) watching = undefined;
        throw error;
      }
      return () => {
        if (listeners.delete(listener) && listeners.size === 0) void stop();
      };
    },
    get subscribers(): number {
      return listeners.size;
    },
    async close(): Promise<void> {
      listeners.clear();
      await stop();
    },
  };
}

export type JobEventHub = ReturnType<typeof createJobEventHub>;

import { stopAll } from "./children.ts";
import { dec, errorMessage } from "./util.ts";

/**
 * What a benchmark created, each with its undo: undone in reverse order at the end of a run,
 * on an error, or on SIGINT/SIGTERM (`onInterrupt`).
 */
export class CleanupStack {
  private readonly steps: { what: string; undo: () => Promise<void> }[] = [];

  /** How many steps are registered: `undoTo(depth)` undoes what came after. */
  get depth(): number {
    return this.steps.length;
  }

  add(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  /** Forgets a step without running it (e.g. a folder that --keep keeps after all). */
  forget(what: string): void {
    const index = this.steps.findIndex((s) => s.what === what);
    if (index >= 0) this.steps.splice(index, 1);
  }

  /** Runs (and forgets) the most recent step if it is `what`. */
  async undoLast(what: string): Promise<void> {
    if (this.steps.at(-1)?.what !== what) return;
    await this.undoTo(this.steps.length - 1);
  }

  /** Undoes every step registered after `depth`, newest first; says which were slow. */
  async undoTo(depth: number): Promise<void> {
    while (this.steps.length > depth) {
      const step = this.steps.pop();
      if (!step) break;
      const started = performance.now();
      try {
        await step.undo();
      } catch (error) {
        console.error(`clean-up: ${step.what}: ${errorMessage(error)}`);
      }
      const took = performance.now() - started;
      if (took > 3_000) console.log(`  (clean-up: ${step.what} took ${dec(took / 1000)} s)`);
    }
  }

  undoAll(): Promise<void> {
    return this.undoTo(0);
  }
}

/**
 * On SIGINT/SIGTERM: stops every child process, undoes `cleanups`, exits 130 (a second signal,
 * or 30 s, exits at once). Answers whether a signal came.
 */
export function onInterrupt(cleanups: CleanupStack, what: string): () => boolean {
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      console.error(`\n${signal}: stopping the processes and removing ${what}…`);
      const hardStop = setTimeout(() => process.exit(130), 30_000);
      hardStop.unref();
      void stopAll()
        .then(() => cleanups.undoAll())
        .finally(() => process.exit(130));
    });
  }
  return () => interrupted;
}

/**
 * The wait of a loop that works when told (a NOTIFY, a stop) or after a while: `sleep(ms)`
 * ends early on `wake()`. A wake that comes while the loop is busy is kept, so the next
 * sleep returns at once and nothing said during the work is missed; `clear()` forgets it
 * (call it just before looking for work).
 */
export function createSleeper() {
  let pending = false;
  let wakeNow: (() => void) | undefined;
  return {
    sleep(ms: number): Promise<void> {
      return new Promise((resolve) => {
        if (pending) {
          pending = false;
          return resolve();
        }
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wakeNow = undefined;
          resolve();
        }
        wakeNow = done;
      });
    },
    wake() {
      if (wakeNow) wakeNow();
      else pending = true;
    },
    clear() {
      pending = false;
    },
    /** A wake came since the last `clear()` and no sleep has taken it yet. */
    get woken(): boolean {
      return pending;
    },
  };
}

export type Sleeper = ReturnType<typeof createSleeper>;

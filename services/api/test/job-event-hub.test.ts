import type { JobChange, JobChangeListener, JobQueue } from "@taskflow/messaging";
import { describe, expect, it } from "vitest";
import { createJobEventHub } from "../src/modules/monitor/job-event-hub.ts";

/** A job queue whose watch() is counted, and whose changes the test emits. */
function watchedQueue() {
  const state = { opened: 0, closed: 0, listener: undefined as JobChangeListener | undefined };
  const queue = {
    async watch(listener: JobChangeListener) {
      state.opened++;
      state.listener = listener;
      return async () => {
        state.closed++;
        state.listener = undefined;
      };
    },
  } as unknown as JobQueue;
  const emit = (change: JobChange) => state.listener?.(change);
  return { queue, state, emit };
}

const change: JobChange = { queue: "jobs", id: "a", name: "report", state: "active", attempts: 1 };

describe("the monitor's job event hub", () => {
  it("watches the queue once while anyone listens, and stops when the last one leaves", async () => {
    const { queue, state, emit } = watchedQueue();
    const hub = createJobEventHub(queue, (error) => {
      throw error;
    });
    expect(state.opened).toBe(0);
    const heardByOne: JobChange[] = [];
    const heardByTwo: JobChange[] = [];
    const [one, two] = await Promise.all([
      hub.subscribe((c) => heardByOne.push(c)),
      hub.subscribe((c) => heardByTwo.push(c)),
    ]);
    expect(state.opened).toBe(1);
    emit(change);
    expect([heardByOne, heardByTwo]).toEqual([[change], [change]]);

    one();
    one(); // twice is harmless
    expect(state.closed).toBe(0);
    two();
    await hub.close();
    expect(state.closed).toBe(1);

    // A new listener watches again.
    const three = await hub.subscribe(() => {});
    expect(state.opened).toBe(2);
    await hub.close();
    expect(state.closed).toBe(2);
    three();
    expect(state.closed).toBe(2);
  });

  it("lets the next subscriber try again when watching failed", async () => {
    let fail = true;
    const { queue, state } = watchedQueue();
    const watch = queue.watch.bind(queue);
    queue.watch = async (listener) => {
      if (fail) throw new Error("Redis is down");
      return watch(listener);
    };
    const hub = createJobEventHub(queue, () => {});
    await expect(hub.subscribe(() => {})).rejects.toThrow("Redis is down");
    expect(hub.subscribers).toBe(0);
    fail = false;
    await hub.subscribe(() => {});
    expect(state.opened).toBe(1);
    await hub.close();
  });
});

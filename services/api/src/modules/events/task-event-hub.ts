import type { DatabaseHandle } from "@taskflow/db";
import { TASK_EVENTS_CHANNEL, type TaskChange } from "@taskflow/tasks";

type Listener = (change: TaskChange) => void;

/**
 * Fans committed task changes (NOTIFY from whichever process made them) out to this API
 * process's live subscribers, by owner (and every change to the monitor's subscribers). It
 * listens only once someone subscribes.
 */
export function createTaskEventHub(database: DatabaseHandle, onError: (error: unknown) => void) {
  const byOwner = new Map<string, Set<Listener>>();
  const everyOwner = new Set<Listener>();
  let listening: Promise<unknown> | undefined;

  const listen = async () => {
    listening ??= database.listen(TASK_EVENTS_CHANNEL, dispatch).catch((error: unknown) => {
      listening = undefined;
      throw error;
    });
    await listening;
  };

  const dispatch = (payload: string) => {
    let changes: TaskChange[];
    try {
      changes = JSON.parse(payload) as TaskChange[];
    } catch (error) {
      onError(error);
      return;
    }
    for (const change of changes) {
      for (const listener of byOwner.get(change.owner_id) ?? []) listener(change);
      for (const listener of everyOwner) listener(change);
    }
  };

  return {
    async subscribe(ownerId: string, listener: Listener): Promise<() => void> {
      await listen();
      let listeners = byOwner.get(ownerId);
      if (!listeners) {
        listeners = new Set();
        byOwner.set(ownerId, listeners);
      }
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) byOwner.delete(ownerId);
      };
    },
    /** Every owner's changes (the monitor's stream, for operators). */
    async subscribeAll(listener: Listener): Promise<() => void> {
      await listen();
      everyOwner.add(listener);
      return () => {
        everyOwner.delete(listener);
      };
    },
    get subscribers(): number {
      let n = everyOwner.size;
      for (const set of byOwner.values()) n += set.size;
      return n;
    },
  };
}

export type TaskEventHub = ReturnType<typeof createTaskEventHub>;

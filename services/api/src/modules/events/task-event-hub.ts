import type { DatabaseHandle } from "@taskflow/db";
import { TASK_EVENTS_CHANNEL, type TaskChange } from "@taskflow/tasks";

type Listener = (change: TaskChange) => void;

/**
 * Fans committed task changes (NOTIFY from whichever process made them) out to this API
 * process's live subscribers, by owner. It listens only once someone subscribes.
 */
export function createTaskEventHub(database: DatabaseHandle, onError: (error: unknown) => void) {
  const byOwner = new Map<string, Set<Listener>>();
  let listening: Promise<unknown> | undefined;

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
    }
  };

  return {
    async subscribe(ownerId: string, listener: Listener): Promise<() => void> {
      listening ??= database.listen(TASK_EVENTS_CHANNEL, dispatch).catch((error: unknown) => {
        listening = undefined;
        throw error;
      });
      await listening;
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
    get subscribers(): number {
      let n = 0;
      for (const set of byOwner.values()) n += set.size;
      return n;
    },
  };
}

export type TaskEventHub = ReturnType<typeof createTaskEventHub>;

import type { DatabaseHandle } from "@taskflow/db";

/**
 * Fans committed changes (NOTIFY on `channel`, from whichever process made them) out to this
 * API process's live subscribers, by owner, and to subscribers of every owner's (the
 * monitor's). It listens only once someone subscribes. `parse` turns a payload into the
 * changes it carries (it throws on a payload it cannot read).
 */
export function createOwnerEventHub<T extends { owner_id: string }>(
  database: DatabaseHandle,
  channel: string,
  parse: (payload: string) => T[],
  onError: (error: unknown) => void,
) {
  type Listener = (change: T) => void;
  const byOwner = new Map<string, Set<Listener>>();
  const everyOwner = new Set<Listener>();
  let listening: Promise<unknown> | undefined;

  const dispatch = (payload: string) => {
    let changes: T[];
    try {
      changes = parse(payload);
    } catch (error) {
      onError(error);
      return;
    }
    for (const change of changes) {
      for (const listener of byOwner.get(change.owner_id) ?? []) listener(change);
      for (const listener of everyOwner) listener(change);
    }
  };

  const listen = async () => {
    listening ??= database.listen(channel, dispatch).catch((error: unknown) => {
      listening = undefined;
      throw error;
    });
    await listening;
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

export type OwnerEventHub<T extends { owner_id: string }> = ReturnType<
  typeof createOwnerEventHub<T>
>;

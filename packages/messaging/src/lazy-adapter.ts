/**
 * An adapter whose module — and the engine client library it imports — is loaded on first
 * use, so that a process imports only the engines it is configured for (the Kafka client
 * alone is ~50 MB of memory; BullMQ with ioredis ~25 MB). `known` holds the members that must
 * answer at once (`engine`, `name`); every other member is taken to be an async method of
 * the port, and forwarded once `load` has resolved. close() before any use loads nothing.
 */
export function lazyAdapter<T extends object>(known: Partial<T>, load: () => Promise<T>): T {
  let loaded: Promise<T> | undefined;
  const adapter = () => {
    loaded ??= load();
    return loaded;
  };
  const fields = known as Record<PropertyKey, unknown>;
  // The ports' methods are all async, so a Proxy can forward any of them without a list.
  return new Proxy(fields, {
    get(_, member) {
      if (member in fields) return fields[member];
      // Not a thenable: `await lazyAdapter(…)` must not call "then".
      if (member === "then" || typeof member === "symbol") return undefined;
      if (member === "close") {
        return async () => {
          if (loaded) await call(await loaded, member, []);
        };
      }
      return async (...args: unknown[]) => call(await adapter(), member, args);
    },
  }) as T;
}

function call(target: object, member: string, args: unknown[]): unknown {
  const method = (target as Record<string, unknown>)[member];
  if (typeof method !== "function") throw new TypeError(`the adapter has no method "${member}"`);
  return method.apply(target, args);
}

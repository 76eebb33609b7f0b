/**
 * @platformatic/kafka calls `Promise.withResolvers` (ES2024: Node 22), and TaskFlow runs on
 * Node 20. It is the only newer API the client uses (checked for 2.12), so it is supplied here
 * where it is missing — spec behaviour, no other change. Drop this file with Node 20.
 */
const PromiseWithResolvers = Promise as unknown as { withResolvers?: unknown };

if (typeof PromiseWithResolvers.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor) {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

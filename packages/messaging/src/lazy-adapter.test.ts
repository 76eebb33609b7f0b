import { describe, expect, it } from "vitest";
import { lazyAdapter } from "./lazy-adapter.ts";

interface Port {
  readonly engine: string;
  add(n: number): Promise<number>;
  close(): Promise<void>;
}

describe("lazyAdapter", () => {
  it("loads the adapter on the first call only, and answers known fields without loading", async () => {
    let loads = 0;
    let total = 0;
    const port = lazyAdapter<Port>({ engine: "test" }, async () => {
      loads++;
      return {
        engine: "test",
        add: async (n) => {
          total += n;
          return total;
        },
        close: async () => {},
      };
    });
    expect(port.engine).toBe("test");
    expect(loads).toBe(0);
    expect(await Promise.all([port.add(1), port.add(2)])).toEqual([1, 3]);
    expect(await port.add(3)).toBe(6);
    expect(loads).toBe(1);
  });

  it("closes without loading what was never used, and closes what was", async () => {
    let loads = 0;
    let closed = 0;
    const open = () =>
      lazyAdapter<Port>({ engine: "test" }, async () => {
        loads++;
        return { engine: "test", add: async (n) => n, close: async () => void closed++ };
      });
    await open().close();
    expect([loads, closed]).toEqual([0, 0]);
    const used = open();
    await used.add(1);
    await used.close();
    expect([loads, closed]).toEqual([1, 1]);
  });

  it("is not mistaken for a promise, and a load that fails fails the call", async () => {
    const port = lazyAdapter<Port>({ engine: "test" }, async () => {
      throw new Error("no such engine");
    });
    expect(await Promise.resolve(port)).toBe(port);
    await expect(port.add(1)).rejects.toThrow("no such engine");
  });
});

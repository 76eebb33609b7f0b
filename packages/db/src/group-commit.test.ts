import { describe, expect, it } from "vitest";
import { GroupCommitter } from "./group-commit.ts";

describe("GroupCommitter", () => {
  it("writes a lone item at once, and items arriving meanwhile together in the next flush", async () => {
    const batches: number[][] = [];
    const committer = new GroupCommitter<number, number>(async (items) => {
      batches.push(items);
      await new Promise((resolve) => setTimeout(resolve, 20));
      return items.map((i) => i * 10);
    });
    const first = committer.submit(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const rest = [2, 3, 4].map((i) => committer.submit(i));
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it("caps a batch at maxBatch", async () => {
    const sizes: number[] = [];
    const committer = new GroupCommitter<number, number>(
      async (items) => {
        sizes.push(items.length);
        return items;
      },
      { maxBatch: 3, maxConcurrentFlushes: 1 },
    );
    await Promise.all(Array.from({ length: 7 }, (_, i) => committer.submit(i)));
    expect(sizes).toEqual([3, 3, 1]);
  });

  it("rejects every caller of a failed flush, and keeps serving the next ones", async () => {
    let fail = true;
    const committer = new GroupCommitter<number, number>(async (items) => {
      if (fail) {
        fail = false;
        throw new Error("disk full");
      }
      return items;
    });
    const failed = await Promise.allSettled([committer.submit(1), committer.submit(2)]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await committer.submit(3)).toBe(3);
  });

  it("rejects when a flush returns the wrong number of results", async () => {
    const committer = new GroupCommitter<number, number>(async () => []);
    await expect(committer.submit(1)).rejects.toThrow(/0 results for 1 items/);
  });
});

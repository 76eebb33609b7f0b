import { describe, expect, it } from "vitest";
import { bucketValueMs, DURATION_RELATIVE_ERROR, durationBucket } from "./duration-histogram.ts";

describe("the time-to-DONE buckets", () => {
  it("report every duration within 1 % of itself, and exactly (to the ms) under 50 ms", () => {
    const durations = [
      ...Array.from({ length: 5_000 }, (_, i) => i + 1),
      ...Array.from({ length: 2_000 }, (_, i) => Math.round(1.009 ** i)),
      86_400_000,
      30 * 86_400_000,
    ];
    for (const ms of durations) {
      const value = bucketValueMs(durationBucket(ms));
      expect(Math.abs(value - ms)).toBeLessThanOrEqual(ms * DURATION_RELATIVE_ERROR + 1e-9);
      if (ms < 50) expect(Math.round(value)).toBe(ms);
    }
  });

  it("keep durations in order (a larger duration is never in a lower bucket)", () => {
    const outOfOrder: number[] = [];
    for (let ms = 1; ms < 200_000; ms += 1) {
      if (durationBucket(ms) < durationBucket(ms - 1)) outOfOrder.push(ms);
    }
    expect(outOfOrder).toEqual([]);
  });

  it("put durations under 1 ms (clock skew included) in bucket 0, worth 0, and a month near 1,100", () => {
    expect(durationBucket(0)).toBe(0);
    expect(durationBucket(-250)).toBe(0);
    expect(durationBucket(Number.NaN)).toBe(0);
    expect(bucketValueMs(0)).toBe(0);
    expect(durationBucket(1)).toBe(1);
    expect(durationBucket(30 * 86_400_000)).toBeLessThan(1_100);
  });
});

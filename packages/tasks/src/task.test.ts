import { describe, expect, it } from "vitest";
import { retryDelayMs } from "./task.ts";

describe("retryDelayMs", () => {
  const policy = { baseMs: 1_000, maxMs: 60_000 };

  it("doubles per attempt, with jitter in the upper half of each step", () => {
    expect(retryDelayMs(1, policy, () => 0)).toBe(500);
    expect(retryDelayMs(1, policy, () => 1)).toBe(1_000);
    expect(retryDelayMs(3, policy, () => 0)).toBe(2_000);
    expect(retryDelayMs(3, policy, () => 1)).toBe(4_000);
  });

  it("never exceeds the cap", () => {
    expect(retryDelayMs(40, policy, () => 1)).toBe(60_000);
  });
});

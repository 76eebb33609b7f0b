import type { ClusterMetadata, ExtendedGroupProtocolSubscription } from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import { subscribedRoundRobinAssigner } from "./subscribed-assigner.ts";

const member = (memberId: string, topics?: string[]): ExtendedGroupProtocolSubscription => ({
  memberId,
  version: 0,
  ...(topics ? { topics } : {}),
});

const cluster = (partitions: Record<string, number>) =>
  ({
    topics: new Map(Object.entries(partitions).map(([t, n]) => [t, { partitionsCount: n }])),
  }) as unknown as ClusterMetadata;

/** memberId → "topic:partition" list, sorted. */
function assigned(result: ReturnType<typeof subscribedRoundRobinAssigner>) {
  return Object.fromEntries(
    result.map((m) => [
      m.memberId,
      [...m.assignments.values()].flatMap((a) => a.partitions.map((p) => `${a.topic}:${p}`)).sort(),
    ]),
  );
}

describe("subscribedRoundRobinAssigner", () => {
  it("gives each topic's partitions only to the members that read it, even those the leader does not read", () => {
    const members = new Map([
      ["a", member("a", ["orders"])],
      ["b", member("b", ["tasks"])],
    ]);
    // "a" leads: the client passes the leader's topics only.
    const result = subscribedRoundRobinAssigner(
      "a",
      members,
      new Set(["orders"]),
      cluster({ orders: 3, tasks: 2 }),
    );
    expect(assigned(result)).toEqual({
      a: ["orders:0", "orders:1", "orders:2"],
      b: ["tasks:0", "tasks:1"],
    });
  });

  it("deals a topic round robin over its readers, and a member without a subscription reads the leader's topics", () => {
    const members = new Map([
      ["c", member("c", ["orders", "tasks"])],
      ["a", member("a", ["orders"])],
      ["b", member("b")],
    ]);
    const result = subscribedRoundRobinAssigner(
      "a",
      members,
      new Set(["orders"]),
      cluster({ orders: 4, tasks: 2 }),
    );
    expect(assigned(result)).toEqual({
      a: ["orders:0", "orders:3"],
      b: ["orders:1"],
      c: ["orders:2", "tasks:0", "tasks:1"],
    });
  });
});

import { describe, expect, it } from "vitest";
import { routingKeyMatches } from "./event-bus.ts";

describe("routingKeyMatches (AMQP topic patterns)", () => {
  it.each([
    ["order.created", "order.created", true],
    ["order.*", "order.created", true],
    ["order.*", "order.created.eu", false],
    ["order.#", "order", true],
    ["order.#", "order.created.eu", true],
    ["#", "anything.at.all", true],
    ["*.created", "task.created", true],
    ["*.created", "created", false],
    ["#.eu", "order.created.eu", true],
    ["order.created", "order.cancelled", false],
    ["order.*.eu", "order.created.us", false],
  ])("%s against %s: %s", (pattern, key, expected) => {
    expect(routingKeyMatches(pattern, key)).toBe(expected);
  });
});

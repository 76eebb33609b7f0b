import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findUnstorable, holdsUnstorable, MAX_JSON_DEPTH } from "./input-limits.ts";

const nested = (depth: number): unknown => {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
};

describe("the input limits", () => {
  it("points at the first unstorable text, in a value or a key", () => {
    expect(findUnstorable({ a: ["ok", "bad\u0000"] })).toEqual({
      path: "/a/1",
      message: "must not contain U+0000 or unpaired surrogates",
    });
    expect(findUnstorable({ "x/\ud800": 1 }, "/querystring")?.path).toBe("/querystring/x~1\ud800");
    expect(findUnstorable({ a: "caf\u00e9 \ud83d\ude00" })).toBeUndefined();
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} levels, without using the stack`, () => {
    expect(findUnstorable(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(findUnstorable(nested(MAX_JSON_DEPTH + 1))?.message).toMatch(/nest deeper/);
    expect(holdsUnstorable(nested(100_000))).toBe(true);
  });

  it("holdsUnstorable (the path-free pass every request pays) agrees with findUnstorable", () => {
    const text = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.constantFrom("\u0000", "a\ud800", "\udfff b", "ok"),
    );
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        text,
        fc.integer(),
        fc.constant(null),
        fc.array(tie("value")),
        fc.dictionary(text, tie("value")),
      ),
    })).value;
    fc.assert(
      fc.property(fc.oneof(json, fc.integer({ min: 60, max: 70 }).map(nested)), (value) => {
        expect(holdsUnstorable(value)).toBe(findUnstorable(value) !== undefined);
      }),
      { numRuns: 2_000 },
    );
  });
});

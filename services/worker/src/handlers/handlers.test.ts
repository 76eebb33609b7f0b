import { Type } from "@sinclair/typebox";
import { describe, expect, it } from "vitest";
import { defineTaskHandler, TaskHandlerRegistry, taskHandlers } from "./index.ts";

const context = (attempt = 1) => ({
  taskId: "01a207b2-eb0f-7f80-b6f4-7d5ad28e3c79",
  attempt,
  signal: new AbortController().signal,
});

describe("the task handler registry", () => {
  it("knows the built-in types", () => {
    expect(taskHandlers.types).toEqual(["echo", "fail", "hash", "sleep"]);
  });

  it("refuses two handlers for one type", () => {
    const h = defineTaskHandler({
      type: "x",
      description: "",
      payload: Type.Unknown(),
      run: () => null,
    });
    expect(() => new TaskHandlerRegistry([h, h])).toThrow(/two handlers/);
  });

  it("reports payload problems with their path", () => {
    expect(taskHandlers.validate("sleep", { ms: 10 })).toEqual([]);
    expect(taskHandlers.validate("sleep", { ms: -1 })[0]?.path).toBe("/payload/ms");
    expect(taskHandlers.validate("sleep", { ms: 1, extra: true })).not.toEqual([]);
    expect(taskHandlers.validate("nope", {})[0]?.path).toBe("/type");
  });
});

describe("built-in handlers", () => {
  it("echo returns its payload", async () => {
    expect(await taskHandlers.get("echo")?.run({ a: [1] }, context())).toEqual({ a: [1] });
  });

  it("fail fails its first `times` attempts, then succeeds", async () => {
    const fail = taskHandlers.get("fail");
    expect(() => fail?.run({ times: 2 }, context(2))).toThrow(/attempt 2/);
    expect(await fail?.run({ times: 2 }, context(3))).toEqual({ failed_attempts: 2 });
  });

  it("hash is deterministic and honours rounds", async () => {
    const hash = taskHandlers.get("hash");
    const a = (await hash?.run({ rounds: 12_000, input: "x" }, context())) as { digest: string };
    const b = (await hash?.run({ rounds: 12_000, input: "x" }, context())) as { digest: string };
    const c = (await hash?.run({ rounds: 1, input: "x" }, context())) as { digest: string };
    expect(a.digest).toBe(b.digest);
    expect(a.digest).not.toBe(c.digest);
    expect(c.digest).toBe("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
  });

  it("sleep stops early when aborted", async () => {
    const controller = new AbortController();
    const started = taskHandlers
      .get("sleep")
      ?.run({ ms: 60_000 }, { ...context(), signal: controller.signal });
    controller.abort(new Error("shutting down"));
    await expect(started).rejects.toThrow();
  });
});

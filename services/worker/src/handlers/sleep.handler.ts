import { setTimeout as sleep } from "node:timers/promises";
import { Type } from "@sinclair/typebox";
import { defineTaskHandler } from "./task-handler.ts";

export const sleepHandler = defineTaskHandler({
  type: "sleep",
  description: "Waits `ms` milliseconds (0 to 10 minutes), then succeeds.",
  payload: Type.Object(
    { ms: Type.Integer({ minimum: 0, maximum: 600_000 }) },
    { additionalProperties: false },
  ),
  async run({ ms }, { signal }) {
    if (ms > 0) await sleep(ms, undefined, { signal });
    return { slept_ms: ms };
  },
});

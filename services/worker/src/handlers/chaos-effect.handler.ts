import { setTimeout as sleep } from "node:timers/promises";
import { Type } from "@sinclair/typebox";
import { defineTaskHandler, type TaskHandler } from "./task-handler.ts";

/**
 * The chaos suite's task type (registered only when TASKFLOW_CHAOS_EFFECT_URL is set): waits
 * `ms`, then performs its side effect — a POST of {task_id, attempt, pid} to the suite's
 * effects ledger — which, like an email or a payment, happens outside the task's
 * transaction and would show up twice if the pipeline ran one claim twice. A refused or
 * unanswered POST fails the attempt.
 */
export function chaosEffectHandler(effectUrl: string): TaskHandler {
  return defineTaskHandler({
    type: "chaos.effect",
    description: "Test only: waits `ms`, then records its effect in the chaos suite's ledger.",
    payload: Type.Object(
      { ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })) },
      { additionalProperties: false },
    ),
    async run({ ms }, { taskId, attempt, signal }) {
      if (ms) await sleep(ms, undefined, { signal });
      const response = await fetch(effectUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ task_id: taskId, attempt, pid: process.pid }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`effects ledger answered ${response.status}`);
      return { effect: "recorded" };
    },
  }) as TaskHandler;
}

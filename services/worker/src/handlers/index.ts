import { chaosEffectHandler } from "./chaos-effect.handler.ts";
import { echoHandler } from "./echo.handler.ts";
import { failHandler } from "./fail.handler.ts";
import { hashHandler } from "./hash.handler.ts";
import { sleepHandler } from "./sleep.handler.ts";
import { type TaskHandler, TaskHandlerRegistry } from "./task-handler.ts";

export * from "./task-handler.ts";
export { chaosEffectHandler };

/** Every built-in task type. To add one: write `<type>.handler.ts` and list it here. */
export const builtInHandlers: readonly TaskHandler[] = [
  sleepHandler,
  echoHandler,
  failHandler,
  hashHandler,
] as TaskHandler[];

export const taskHandlers = new TaskHandlerRegistry(builtInHandlers);

/**
 * The task types of a deployment: the built-in ones, plus `chaos.effect` when the chaos
 * suite names its effects ledger (TASKFLOW_CHAOS_EFFECT_URL).
 */
export function taskHandlersFor(chaosEffectUrl: string | undefined): TaskHandlerRegistry {
  return chaosEffectUrl === undefined
    ? taskHandlers
    : new TaskHandlerRegistry([...builtInHandlers, chaosEffectHandler(chaosEffectUrl)]);
}

import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";

export interface TaskContext {
  taskId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the worker must stop (shutdown timeout): stop early if you can. */
  signal: AbortSignal;
}

/**
 * One task type: the shape of its payload (checked by the API before the task is accepted)
 * and what a worker does with it. Whatever `run` returns becomes the task's result; a throw
 * is a failed attempt (retried with backoff until max_attempts).
 */
export interface TaskHandler<S extends TSchema = TSchema> {
  type: string;
  description: string;
  payload: S;
  run(payload: Static<S>, context: TaskContext): Promise<unknown> | unknown;
}

export function defineTaskHandler<S extends TSchema>(handler: TaskHandler<S>): TaskHandler<S> {
  return handler;
}

export interface PayloadProblem {
  path: string;
  message: string;
}

/** The task types a deployment knows; refuses two handlers for one type. */
export class TaskHandlerRegistry {
  private readonly handlers = new Map<
    string,
    { handler: TaskHandler; check: ReturnType<typeof TypeCompiler.Compile> }
  >();

  constructor(handlers: readonly TaskHandler[]) {
    for (const handler of handlers) {
      if (this.handlers.has(handler.type))
        throw new Error(`two handlers for task type "${handler.type}"`);
      this.handlers.set(handler.type, { handler, check: TypeCompiler.Compile(handler.payload) });
    }
  }

  get types(): string[] {
    return [...this.handlers.keys()].sort();
  }

  get(type: string): TaskHandler | undefined {
    return this.handlers.get(type)?.handler;
  }

  /** Problems with a payload for `type`; empty when it is acceptable. */
  validate(type: string, payload: unknown): PayloadProblem[] {
    const entry = this.handlers.get(type);
    if (!entry)
      return [{ path: "/type", message: `unknown task type; known: ${this.types.join(", ")}` }];
    // Check() is the compiled fast path; Errors() walks the schema and is for failures only.
    if (entry.check.Check(payload)) return [];
    return [...entry.check.Errors(payload)].slice(0, 10).map((e) => ({
      path: `/payload${e.path}`,
      message: e.message,
    }));
  }
}

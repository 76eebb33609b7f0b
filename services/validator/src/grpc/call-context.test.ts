import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { createTokenService } from "@taskflow/auth";
import { createLogger } from "@taskflow/observability";
import { describe, expect, it, vi } from "vitest";
import { type CallStats, unaryHandler } from "./call-context.ts";

const tokens = createTokenService({ secret: "x".repeat(32), ttlSeconds: 60 });
const ADA = { id: "0190a000-0000-7000-8000-000000000001", email: "ada@example.com", name: "Ada" };

/** Just enough of a grpc-js unary call for the wrapper. */
async function fakeCall(options: { deadline: number; cancelled?: boolean; token?: string }) {
  const metadata = new grpc.Metadata();
  metadata.set(
    "authorization",
    `Bearer ${options.token ?? (await tokens.issue(ADA)).access_token}`,
  );
  return Object.assign(new EventEmitter(), {
    cancelled: options.cancelled ?? false,
    metadata,
    request: { n: 1 },
    getDeadline: () => options.deadline,
    getPath: () => "/test.v1.Test/Run",
  }) as unknown as grpc.ServerUnaryCall<{ n: number }, { n: number }>;
}

function answer(handler: grpc.handleUnaryCall<{ n: number }, { n: number }>, call: unknown) {
  return new Promise<{ error: Partial<grpc.StatusObject> | null; value?: { n: number } | null }>(
    (resolve) =>
      handler(call as grpc.ServerUnaryCall<{ n: number }, { n: number }>, (error, value) =>
        resolve({ error: error as Partial<grpc.StatusObject> | null, value }),
      ),
  );
}

describe("unaryHandler", () => {
  const environment = () => ({
    tokens,
    logger: createLogger({ level: "silent", service: "test" }),
    stats: { inFlight: 0, processed: 0, failed: 0, abandoned: 0 } as CallStats,
  });

  it("runs the use case for a live call with a valid token, as its user", async () => {
    const env = environment();
    const run = vi.fn(async (request: { n: number }, context: { user: unknown }) => {
      expect(context.user).toEqual(ADA);
      return { n: request.n + 1 };
    });
    const result = await answer(
      unaryHandler(env, run),
      await fakeCall({ deadline: Date.now() + 5_000 }),
    );
    expect(result).toEqual({ error: null, value: { n: 2 } });
    expect(env.stats).toMatchObject({ inFlight: 0, processed: 1, failed: 0, abandoned: 0 });
  });

  it("does not work on a call whose deadline has already passed", async () => {
    const env = environment();
    const run = vi.fn(async () => ({ n: 0 }));
    const result = await answer(
      unaryHandler(env, run),
      await fakeCall({ deadline: Date.now() - 1 }),
    );
    expect(run).not.toHaveBeenCalled();
    expect(result.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(env.stats).toMatchObject({ processed: 0, abandoned: 1 });
  });

  it("does not work on a call its client cancelled", async () => {
    const env = environment();
    const run = vi.fn(async () => ({ n: 0 }));
    await answer(
      unaryHandler(env, run),
      await fakeCall({ deadline: Number.POSITIVE_INFINITY, cancelled: true }),
    );
    expect(run).not.toHaveBeenCalled();
  });

  it("stops at a checkpoint once the deadline passes mid-call", async () => {
    const env = environment();
    const call = await fakeCall({ deadline: Date.now() + 30 });
    const after = vi.fn();
    const result = await answer(
      unaryHandler(env, async (_request, context) => {
        await new Promise((resolve) => setTimeout(resolve, 60));
        context.checkpoint();
        after();
        return { n: 0 };
      }),
      call,
    );
    expect(after).not.toHaveBeenCalled();
    expect(result.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(env.stats.abandoned).toBe(1);
  });

  it("answers UNAUTHENTICATED for a missing, malformed or forged token, and runs nothing", async () => {
    const forged = await createTokenService({ secret: "y".repeat(32), ttlSeconds: 60 }).issue(ADA);
    const run = vi.fn(async () => ({ n: 0 }));
    const noToken = await fakeCall({ deadline: Date.now() + 5_000 });
    noToken.metadata.remove("authorization");
    for (const call of [
      noToken,
      await fakeCall({ deadline: Date.now() + 5_000, token: "" }),
      await fakeCall({ deadline: Date.now() + 5_000, token: forged.access_token }),
    ]) {
      const result = await answer(unaryHandler(environment(), run), call);
      expect(result.error?.code).toBe(grpc.status.UNAUTHENTICATED);
    }
    expect(run).not.toHaveBeenCalled();
  });

  it("answers INTERNAL for a bug, without its message, and counts it failed", async () => {
    const env = environment();
    const result = await answer(
      unaryHandler(env, async () => {
        throw new Error("secret detail");
      }),
      await fakeCall({ deadline: Date.now() + 5_000 }),
    );
    expect(result.error).toMatchObject({ code: grpc.status.INTERNAL, details: "internal error" });
    expect(env.stats.failed).toBe(1);
  });
});

import type { Readable, Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { AuthError, type AuthUser, type TokenService } from "@taskflow/auth";
import type { ProcessStats } from "@taskflow/db";
import {
  endSpan,
  type Logger,
  type Span,
  SpanKind,
  startSpan,
  TRACEPARENT,
  type Tracer,
  validTraceparent,
} from "@taskflow/observability";

/**
 * What every authenticated handler shares: parse the bearer token, stop working on a call its
 * client gave up on (deadline passed, cancelled), turn errors into gRPC statuses, count.
 * Health and reflection are registered without these wrappers: they stay open.
 */

/** An error to answer with this status; its message is the status details. */
export class GrpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "GrpcError";
  }
}

/** Thrown at a checkpoint when the call's deadline passed or its client cancelled it. */
class CallAbandoned extends Error {}

/** The process's counters (its heartbeat), plus calls or orders dropped unanswered. */
export interface CallStats extends ProcessStats {
  /** Calls (or streamed orders) not worked on further: deadline passed or client gone. */
  abandoned: number;
}

export interface HandlerEnvironment {
  tokens: TokenService;
  logger: Logger;
  stats: CallStats;
  /** Tracing on: a SERVER span per call, child of the `traceparent` metadata entry. */
  tracer?: Tracer | undefined;
}

/** The call's span (tracing on), child of the client's trace context in the metadata. */
function serverSpan(
  env: HandlerEnvironment,
  call: { metadata: grpc.Metadata; getPath(): string },
): Span | undefined {
  if (!env.tracer) return undefined;
  const path = call.getPath(); // "/taskflow.orders.v1.OrderValidationService/ValidateOrder"
  const [service = "", method = ""] = path.slice(1).split("/");
  return startSpan(env.tracer, path.slice(1), {
    kind: SpanKind.SERVER,
    parent: validTraceparent(call.metadata.get(TRACEPARENT)[0]),
    attributes: { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method },
  });
}

function endServerSpan(span: Span | undefined, status: grpc.status, error?: unknown) {
  if (!span) return;
  span.setAttribute("rpc.grpc.status_code", status);
  endSpan(span, status === grpc.status.OK ? undefined : error);
}

export interface CallContext {
  readonly user: AuthUser;
  /**
   * Throws (ending the handler) if the deadline has passed or the client cancelled: call it
   * before each piece of work, so a call nobody waits for is not worked on.
   */
  checkpoint(): void;
}

interface SurfaceCall {
  cancelled: boolean;
  getDeadline(): grpc.Deadline;
}

/** Whether nobody waits for the answer any more. */
export function isAbandoned(call: SurfaceCall): boolean {
  if (call.cancelled) return true;
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return ms <= Date.now();
}

/** The user of the `authorization: Bearer <jwt>` metadata entry, verified like the HTTP plugin. */
export async function authenticate(
  metadata: grpc.Metadata,
  tokens: TokenService,
): Promise<AuthUser> {
  const [value] = metadata.get("authorization");
  if (typeof value !== "string") {
    throw new GrpcError(
      grpc.status.UNAUTHENTICATED,
      "authentication required: send 'authorization: Bearer <token>' metadata",
    );
  }
  const match = /^Bearer\s+(\S+)$/i.exec(value);
  if (!match?.[1]) {
    throw new GrpcError(
      grpc.status.UNAUTHENTICATED,
      "the authorization metadata must be 'Bearer <token>'",
    );
  }
  try {
    // The validator's callers are services (the API) and users alike.
    return await tokens.verify(match[1], ["user", "service"]);
  } catch (error) {
    if (error instanceof AuthError) throw new GrpcError(grpc.status.UNAUTHENTICATED, error.message);
    throw error;
  }
}

function contextOf(call: SurfaceCall, user: AuthUser): CallContext {
  return {
    user,
    checkpoint() {
      if (isAbandoned(call)) throw new CallAbandoned();
    },
  };
}

function statusOf(error: unknown, env: HandlerEnvironment, path: string): grpc.StatusObject {
  if (error instanceof CallAbandoned) {
    env.stats.abandoned++;
    // Already sent by grpc-js if its own deadline timer fired; ignored then.
    return status(grpc.status.DEADLINE_EXCEEDED, "deadline exceeded");
  }
  if (error instanceof GrpcError) {
    if (error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.INTERNAL) {
      env.stats.failed++;
      env.logger.error({ err: error.cause ?? error, path }, error.message);
    }
    return status(error.code, error.message);
  }
  env.stats.failed++;
  env.logger.error({ err: error, path }, "gRPC handler failed");
  return status(grpc.status.INTERNAL, "internal error");
}

function status(code: grpc.status, details: string): grpc.StatusObject {
  return { code, details, metadata: new grpc.Metadata() };
}

/** A unary handler from an async function of the request: authenticated, deadline-aware. */
export function unaryHandler<Req, Res>(
  env: HandlerEnvironment,
  run: (request: Req, context: CallContext) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    env.stats.inFlight++;
    const span = serverSpan(env, call);
    void (async () => {
      try {
        if (isAbandoned(call)) throw new CallAbandoned();
        const context = contextOf(call, await authenticate(call.metadata, env.tokens));
        const response = await run(call.request, context);
        context.checkpoint();
        env.stats.processed++;
        callback(null, response);
        endServerSpan(span, grpc.status.OK);
      } catch (error) {
        const answer = statusOf(error, env, call.getPath());
        callback(answer);
        endServerSpan(span, answer.code, error);
      } finally {
        env.stats.inFlight--;
      }
    })();
  };
}

/**
 * A bidirectional-streaming handler: `run` reads and writes the stream (see `readBatch`,
 * `write`); the call ends OK when it returns, with the error's status when it throws.
 */
export function bidiHandler<Req, Res>(
  env: HandlerEnvironment,
  run: (call: grpc.ServerDuplexStream<Req, Res>, context: CallContext) => Promise<void>,
): grpc.handleBidiStreamingCall<Req, Res> {
  return (call) => {
    env.stats.inFlight++;
    const span = serverSpan(env, call);
    void (async () => {
      try {
        if (isAbandoned(call)) throw new CallAbandoned();
        const context = contextOf(call, await authenticate(call.metadata, env.tokens));
        await run(call, context);
        context.checkpoint();
        call.end();
        endServerSpan(span, grpc.status.OK);
      } catch (error) {
        const answer = statusOf(error, env, call.getPath());
        endServerSpan(span, answer.code, error);
        // A cancelled call's stream is destroyed: there is nobody to answer.
        if (!call.cancelled) call.emit("error", answer);
      } finally {
        env.stats.inFlight--;
      }
    })();
  };
}

/**
 * The messages the stream holds now, up to `max`, waiting for at least one; [] once the
 * client has finished sending (or the call is gone). Reading only what has arrived lets a
 * handler work on a batch at a time without waiting to fill it: grpc-js reads ahead (up to
 * the stream's high-water mark, 16) while the handler works on the previous batch.
 */
export async function readBatch<T>(stream: Readable, max: number): Promise<T[]> {
  for (;;) {
    const batch: T[] = [];
    while (batch.length < max) {
      const next = stream.read() as T | null;
      if (next === null) break;
      batch.push(next);
    }
    if (batch.length > 0 || stream.readableEnded || stream.destroyed) return batch;
    await oneOf(stream, ["readable", "end", "close"]);
    // The first message is here: let the rest of what this I/O turn brought arrive with it.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Writes a message, waiting while the client reads too slowly (backpressure). */
export async function write<T>(stream: Writable, message: T): Promise<void> {
  if (!stream.write(message)) await oneOf(stream, ["drain", "close"]);
}

function oneOf(emitter: NodeJS.EventEmitter, events: string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of events) emitter.off(event, done);
      resolve();
    };
    for (const event of events) emitter.on(event, done);
  });
}

import {
  type Attributes,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base";

export { type Span, SpanKind, type Tracer } from "@opentelemetry/api";

/**
 * Tracing (OpenTelemetry), two modes:
 *
 * - **Off** (TASKFLOW_OTLP_ENDPOINT unset, the default): no SDK is loaded or registered and no
 *   span exists. The W3C `traceparent` a request came with is still carried as a plain string
 *   — the task row, outbox headers, message headers — so a trace started upstream continues
 *   through the pipeline at the cost of one string per task.
 * - **On**: each role gets its own tracer (`tracerFor(role)`: resource `service.name` =
 *   `taskflow-<role>`, so `taskflow start` reports its roles apart), all feeding one
 *   BatchSpanProcessor and one OTLP/HTTP exporter. Spans are parented explicitly from the
 *   `traceparent` strings the messages carry (no context manager, no async hooks).
 *
 * Callers check `tracer` for undefined and skip every span call when it is: the hot path
 * stays a branch.
 */

/** The W3C trace context header (and the key it has in every carrier: outbox, queues, streams). */
export const TRACEPARENT = "traceparent";

const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const INVALID_TRACE_ID = "00000000000000000000000000000000";
const INVALID_SPAN_ID = "0000000000000000";

/** A valid version-00 `traceparent`'s span context; undefined for anything else. */
export function parseTraceparent(value: string | null | undefined): SpanContext | undefined {
  if (typeof value !== "string" || value.length !== 55) return undefined;
  const match = TRACEPARENT_PATTERN.exec(value);
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
}

/** A `traceparent` as received, if it is valid (an invalid one is dropped, as W3C asks). */
export function validTraceparent(value: unknown): string | undefined {
  return typeof value === "string" && parseTraceparent(value) ? value : undefined;
}

/** The trace id inside a `traceparent`, or null. */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  return parseTraceparent(traceparent)?.traceId ?? null;
}

export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The `traceparent` that makes a span the parent of the next hop. */
export function traceparentOf(span: Span): string {
  return formatTraceparent(span.spanContext());
}

/** The trace context of a carrier's headers (`traceparent`), or undefined. */
export function traceparentFrom(
  headers: Readonly<Record<string, unknown>> | null | undefined,
): string | undefined {
  return validTraceparent(headers?.[TRACEPARENT]);
}

/** Headers carrying `traceparent` (a copy of `headers`, or `headers` itself without one). */
export function withTraceparent(
  headers: Record<string, string> | undefined,
  traceparent: string | null | undefined,
): Record<string, string> | undefined {
  if (!traceparent) return headers;
  return { ...headers, [TRACEPARENT]: traceparent };
}

export interface StartSpanOptions {
  kind?: SpanKind;
  /** The parent's `traceparent`; none (or invalid): a new trace. */
  parent?: string | null | undefined;
  /** Other contexts this span is about (a batch's messages), as `traceparent` strings. */
  links?: readonly (string | null | undefined)[];
  attributes?: Attributes;
  startTime?: number | Date;
}

/** Starts a span whose parent is the remote context `parent` (explicitly, not the active one). */
export function startSpan(tracer: Tracer, name: string, options: StartSpanOptions = {}): Span {
  const parent = parseTraceparent(options.parent);
  const links: Link[] = [];
  for (const tp of options.links ?? []) {
    const context = parseTraceparent(tp);
    if (context) links.push({ context });
  }
  return tracer.startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes && { attributes: options.attributes }),
      ...(links.length > 0 && { links }),
      ...(options.startTime !== undefined && { startTime: options.startTime }),
    },
    parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
  );
}

/** Ends a span, marked as an error when `error` is given. */
export function endSpan(span: Span, error?: unknown, endTime?: number | Date): void {
  if (error !== undefined) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    if (error instanceof Error) span.recordException(error);
  }
  span.end(endTime);
}

/** `messaging.operation.type` values of the messaging semantic conventions. */
export type MessagingOperation = "create" | "send" | "receive" | "process" | "settle";

/**
 * Attributes of the OpenTelemetry messaging semantic conventions (spelled out here: they are
 * still "incubating", which the conventions package asks not to import).
 */
export function messagingAttributes(m: {
  /** `rabbitmq`, `kafka`, `redis`, `nats`, `bullmq`, `taskflow.embedded` … */
  system: string;
  destination: string;
  operation: MessagingOperation;
  /** `publish`, `append`, `process`, `add` … (the engine's word for it). */
  operationName?: string;
  messageId?: string;
  batchSize?: number;
  consumerGroup?: string;
  key?: string;
}): Attributes {
  const attributes: Attributes = {
    "messaging.system": m.system,
    "messaging.destination.name": m.destination,
    "messaging.operation.type": m.operation,
    "messaging.operation.name": m.operationName ?? m.operation,
  };
  if (m.messageId !== undefined) attributes["messaging.message.id"] = m.messageId;
  if (m.batchSize !== undefined) attributes["messaging.batch.message_count"] = m.batchSize;
  if (m.consumerGroup !== undefined) attributes["messaging.consumer.group.name"] = m.consumerGroup;
  if (m.key !== undefined) attributes["messaging.kafka.message.key"] = m.key;
  return attributes;
}

/** The span kind of a messaging operation, per the conventions. */
export function messagingSpanKind(operation: MessagingOperation): SpanKind {
  if (operation === "create" || operation === "send") return SpanKind.PRODUCER;
  if (operation === "process" || operation === "receive") return SpanKind.CONSUMER;
  return SpanKind.CLIENT;
}

/** A messaging span named `<operation> <destination>`, as the conventions name them. */
export function startMessagingSpan(
  tracer: Tracer,
  m: Parameters<typeof messagingAttributes>[0],
  options: Omit<StartSpanOptions, "kind" | "attributes"> & { attributes?: Attributes } = {},
): Span {
  return startSpan(tracer, `${m.operationName ?? m.operation} ${m.destination}`, {
    ...options,
    kind: messagingSpanKind(m.operation),
    attributes: { ...messagingAttributes(m), ...options.attributes },
  });
}

// ------------------------------------------------------------------------------------------
// The SDK: loaded and registered only when tracing is on.

interface TracingState {
  processor: SpanProcessor;
  tracers: Map<string, Tracer>;
  makeTracer(service: string): Tracer;
}

let state: TracingState | undefined;

export interface TracingOptions {
  /**
   * TASKFLOW_OTLP_ENDPOINT: the collector's OTLP/HTTP base URL (`http://collector:4318`;
   * `/v1/traces` is appended unless the path already ends so). Unset: tracing stays off.
   */
  otlpEndpoint?: string | undefined;
  /** Instead of OTLP (tests: an InMemorySpanExporter). Turns tracing on. */
  exporter?: SpanExporter;
}

/** Where spans go, from the configured endpoint. */
export function otlpTracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, "");
  return base.endsWith("/v1/traces") ? base : `${base}/v1/traces`;
}

/**
 * Turns tracing on when an endpoint (or an exporter) is given; otherwise does nothing and
 * loads nothing. Idempotent: the first call that turns it on wins. Resolves whether it is on.
 */
export async function initTracing(options: TracingOptions): Promise<boolean> {
  if (state) return true;
  if (!options.otlpEndpoint && !options.exporter) return false;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { resourceFromAttributes }] =
    await Promise.all([
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/resources"),
    ]);
  let exporter = options.exporter;
  if (!exporter) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    exporter = new OTLPTraceExporter({ url: otlpTracesUrl(options.otlpEndpoint as string) });
  }
  if (state) return true; // another call won while this one loaded the SDK
  // One processor for every role's provider: spans carry their own resource.
  const processor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1_000 });
  state = {
    processor,
    tracers: new Map(),
    makeTracer(service) {
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ "service.name": service }),
        spanProcessors: [processor],
      });
      return provider.getTracer("@taskflow/observability");
    },
  };
  return true;
}

/** Whether spans are being made (initTracing turned tracing on). */
export function tracingEnabled(): boolean {
  return state !== undefined;
}

/**
 * The tracer of a role (`service.name` = `taskflow-<role>`); undefined while tracing is off,
 * so that a caller's `if (tracer)` is the whole cost.
 */
export function tracerFor(role: string): Tracer | undefined {
  if (!state) return undefined;
  const service = `taskflow-${role}`;
  let tracer = state.tracers.get(service);
  if (!tracer) {
    tracer = state.makeTracer(service);
    state.tracers.set(service, tracer);
  }
  return tracer;
}

/** Exports the spans ended so far. */
export async function flushTracing(): Promise<void> {
  await state?.processor.forceFlush();
}

/** Exports what is left and turns tracing off (a later initTracing may turn it on again). */
export async function shutdownTracing(): Promise<void> {
  const current = state;
  state = undefined;
  await current?.processor.shutdown();
}

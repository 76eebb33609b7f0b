import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import {
  flushTracing,
  initTracing,
  otlpTracesUrl,
  parseTraceparent,
  SpanKind,
  shutdownTracing,
  startMessagingSpan,
  traceIdOf,
  traceparentFrom,
  traceparentOf,
  tracerFor,
  tracingEnabled,
  validTraceparent,
  withTraceparent,
} from "./tracing.ts";

const TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

describe("traceparent strings (W3C trace context)", () => {
  it("parses a version-00 traceparent and formats it back", () => {
    expect(parseTraceparent(TP)).toEqual({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: 1,
      isRemote: true,
    });
    expect(traceIdOf(TP)).toBe("0af7651916cd43dd8448eb211c80319c");
  });

  it("refuses what is not one: other lengths, upper case, all-zero ids", () => {
    for (const bad of [
      "",
      "garbage",
      TP.toUpperCase(),
      `${TP}-extra`,
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
      expect(validTraceparent(bad)).toBeUndefined();
    }
    expect(traceIdOf(null)).toBeNull();
  });

  it("reads and writes the carrier headers without touching others", () => {
    expect(traceparentFrom({ traceparent: TP, other: "x" })).toBe(TP);
    expect(traceparentFrom({ traceparent: "nope" })).toBeUndefined();
    expect(traceparentFrom(undefined)).toBeUndefined();
    const headers = { other: "x" };
    expect(withTraceparent(headers, TP)).toEqual({ other: "x", traceparent: TP });
    expect(withTraceparent(headers, undefined)).toBe(headers);
  });

  it("appends /v1/traces to the collector's base URL", () => {
    expect(otlpTracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces");
    expect(otlpTracesUrl("http://collector:4318/v1/traces")).toBe(
      "http://collector:4318/v1/traces",
    );
  });
});

describe("tracing on and off", () => {
  afterEach(() => shutdownTracing());

  it("loads nothing and gives no tracer without an endpoint", async () => {
    expect(await initTracing({})).toBe(false);
    expect(tracingEnabled()).toBe(false);
    expect(tracerFor("worker")).toBeUndefined();
  });

  it("makes messaging spans that continue the trace they were handed, per role", async () => {
    const exporter = new InMemorySpanExporter();
    expect(await initTracing({ exporter })).toBe(true);
    const relay = tracerFor("relay");
    const worker = tracerFor("worker");
    if (!relay || !worker) throw new Error("tracing should be on");
    const publish = startMessagingSpan(
      relay,
      {
        system: "rabbitmq",
        destination: "taskflow.tasks",
        operation: "send",
        operationName: "publish",
      },
      { parent: TP },
    );
    const process = startMessagingSpan(
      worker,
      { system: "rabbitmq", destination: "taskflow.tasks", operation: "process" },
      { parent: traceparentOf(publish) },
    );
    process.end();
    publish.end();
    await flushTracing();
    const spans = exporter.getFinishedSpans();
    const byName = new Map(spans.map((s) => [s.name, s]));
    const sent = byName.get("publish taskflow.tasks");
    const got = byName.get("process taskflow.tasks");
    expect(sent?.kind).toBe(SpanKind.PRODUCER);
    expect(got?.kind).toBe(SpanKind.CONSUMER);
    expect(sent?.spanContext().traceId).toBe(traceIdOf(TP));
    expect(got?.spanContext().traceId).toBe(traceIdOf(TP));
    expect(got?.parentSpanContext?.spanId).toBe(sent?.spanContext().spanId);
    expect(sent?.attributes).toMatchObject({
      "messaging.system": "rabbitmq",
      "messaging.destination.name": "taskflow.tasks",
      "messaging.operation.type": "send",
      "messaging.operation.name": "publish",
    });
    expect(sent?.resource.attributes["service.name"]).toBe("taskflow-relay");
    expect(got?.resource.attributes["service.name"]).toBe("taskflow-worker");
  });
});

import {
  endSpan,
  type Span,
  SpanKind,
  startSpan,
  type Tracer,
  traceparentOf,
  validTraceparent,
} from "@taskflow/observability";
import type { FastifyInstance, FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** The request's SERVER span (tracing on); undefined otherwise. */
    traceSpan: Span | undefined;
  }
}

/**
 * A SERVER span per request when tracing is on, child of the `traceparent` header (W3C).
 * Off, nothing is registered: the header is read only where a request writes messages.
 */
export function registerTracing(app: FastifyInstance, tracer: Tracer | undefined): void {
  if (!tracer) return;
  app.decorateRequest("traceSpan", undefined);
  app.addHook("onRequest", async (request) => {
    const route = request.routeOptions.url;
    request.traceSpan = startSpan(tracer, route ? `${request.method} ${route}` : request.method, {
      kind: SpanKind.SERVER,
      parent: validTraceparent(request.headers.traceparent),
      attributes: {
        "http.request.method": request.method,
        "url.path": request.url.split("?", 1)[0] ?? request.url,
        ...(route && { "http.route": route }),
      },
    });
  });
  app.addHook("onResponse", async (request, reply) => {
    const span = request.traceSpan;
    if (!span) return;
    span.setAttribute("http.response.status_code", reply.statusCode);
    endSpan(span, reply.statusCode >= 500 ? new Error(`HTTP ${reply.statusCode}`) : undefined);
  });
}

/**
 * The trace context the messages a request writes carry: its SERVER span's when tracing is
 * on, else the `traceparent` it came with (if valid), else none.
 */
export function requestTraceparent(request: FastifyRequest): string | undefined {
  const span = request.traceSpan;
  return span ? traceparentOf(span) : validTraceparent(request.headers.traceparent);
}

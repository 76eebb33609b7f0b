import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { type Static, Type } from "@sinclair/typebox";
import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
} from "fastify";
import { lingerOnRefusedBody } from "./lingering-close.ts";

/** RFC 9457 problem details: every error this API answers has this shape. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: "A URI naming the kind of problem" }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(Type.Object({ path: Type.String(), message: Type.String() }), {
        description: "Field-level problems, for 422",
      }),
    ),
  },
  { $id: "Problem", title: "Problem" },
);
export type Problem = Static<typeof ProblemSchema>;

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** An error a route throws on purpose: it becomes a problem+json answer with its status. */
export class HttpProblem extends Error {
  constructor(
    readonly statusCode: number,
    detail: string,
    readonly extra: {
      type?: string;
      errors?: Problem["errors"];
      headers?: Record<string, string>;
    } = {},
  ) {
    super(detail);
    this.name = "HttpProblem";
  }
}

export function sendProblem(
  reply: FastifyReply,
  status: number,
  detail: string | undefined,
  extra: { type?: string; errors?: Problem["errors"] } = {},
) {
  const problem: Problem = {
    type: extra.type ?? "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    ...(detail ? { detail } : {}),
    instance: reply.request.url.split("?")[0] ?? "/",
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
  return reply.code(status).type("application/problem+json; charset=utf-8").send(problem);
}

// Connection failures and PostgreSQL's "shutting down / cannot connect now" classes: a
// dependency is down, which is a 503 the client may retry, not a bug.
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "57P01",
  "57P03",
  "53300",
  "08006",
  "08001",
]);

function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : "";
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED/.test(
    message,
  );
}

function validationErrors(error: FastifyError): Problem["errors"] {
  return (error.validation ?? []).slice(0, 20).map((v) => {
    const base = `${error.validationContext === "body" ? "" : `/${error.validationContext ?? ""}`}${v.instancePath}`;
    const params = v.params as Record<string, unknown>;
    if (v.keyword === "additionalProperties") {
      return { path: `${base}/${String(params.additionalProperty)}`, message: "unknown field" };
    }
    if (v.keyword === "required") {
      return { path: `${base}/${String(params.missingProperty)}`, message: "is required" };
    }
    return { path: base || "/", message: v.message ?? "is invalid" };
  });
}

/**
 * Fastify's `frameworkErrors`: what the router refuses before a route runs — a URL that does
 * not percent-decode (400), a path parameter over the router's 100 characters (414).
 */
export function frameworkErrorProblem(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    sendProblem(reply, 414, "a path segment is longer than 100 characters");
  } else if (error.code === "FST_ERR_BAD_URL") {
    sendProblem(reply, 400, "the URL is not valid percent-encoded UTF-8");
  } else {
    reply.log.error({ err: error }, "framework error");
    sendProblem(reply, 500, "an unexpected error occurred");
  }
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses (malformed, or headers
 * over the limit) gets a problem+json too — written on the socket, which then closes, as the
 * answer says.
 */
export function clientErrorProblem(error: ConnectionError, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const status =
    error.code === "HPE_HEADER_OVERFLOW"
      ? 431
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? 408
        : 400;
  const body = JSON.stringify({
    type: "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail:
      status === 431
        ? "the request line and headers are larger than the server accepts"
        : status === 408
          ? "the request took too long to arrive"
          : "the request is not valid HTTP",
  } satisfies Problem);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
        `Content-Type: application/problem+json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

type OpenApiResponses = Record<
  string,
  { content?: Record<string, { schema?: { $ref?: string } }> }
>;

/**
 * @fastify/swagger's `transformObject`: the answers whose schema is Problem are served as
 * application/problem+json (sendProblem), so the document names that media type for them.
 */
export function documentProblemMediaType<T extends object>(openapi: T): T {
  const paths = (openapi as { paths?: Record<string, Record<string, unknown>> }).paths;
  for (const item of Object.values(paths ?? {})) {
    for (const operation of Object.values(item)) {
      const responses = (operation as { responses?: OpenApiResponses }).responses ?? {};
      for (const response of Object.values(responses)) {
        const json = response.content?.["application/json"];
        if (json?.schema?.$ref === "#/components/schemas/Problem") {
          response.content = { "application/problem+json": json };
        }
      }
    }
  }
  return openapi;
}

/** Every error and every unknown route answers application/problem+json; nothing leaks a stack. */
export function registerProblemHandlers(app: FastifyInstance) {
  // A route that validates part of the request may answer 422 (below): its document says so.
  app.addHook("onRoute", (route) => {
    const schema = route.schema;
    const response = schema?.response as Record<string, unknown> | undefined;
    if (!schema || !response || "422" in response) return;
    if (schema.body || schema.querystring || schema.params || schema.headers) {
      route.schema = { ...schema, response: { ...response, 422: Type.Ref("Problem") } };
    }
  });
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof HttpProblem) {
      if (error.extra.headers) reply.headers(error.extra.headers);
      return sendProblem(reply, error.statusCode, error.message, error.extra);
    }
    if (error.validation) {
      return sendProblem(reply, 422, "the request does not match its schema", {
        type: "urn:taskflow:problem:validation",
        errors: validationErrors(error),
      });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      if (status === 429 && error.message)
        reply.header("retry-after", reply.getHeader("retry-after") ?? "60");
      if (status === 413) lingerOnRefusedBody(request, reply);
      return sendProblem(reply, status, error.message);
    }
    if (isUnavailable(error)) {
      request.log.warn({ err: error }, "dependency unavailable");
      reply.header("retry-after", "2");
      return sendProblem(reply, 503, "a dependency is unavailable; retry shortly");
    }
    request.log.error({ err: error }, "unhandled error");
    return sendProblem(reply, 500, "an unexpected error occurred");
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, `no route for ${request.method} ${request.url.split("?")[0]}`),
  );
}

/**
 * The typed API client: openapi-fetch over the `paths` generated from the API's OpenAPI
 * document (schema.gen.ts), so no request or response type is written here a second time.
 * Every call sends the session's bearer token; a 401 to an authenticated call ends the
 * session (the app then asks to sign in again). Errors come back as {@link ApiProblem}.
 */
import createClient, { type Middleware } from "openapi-fetch";
import { sessionStore } from "../session/session-store.ts";
import type { components, paths } from "./schema.gen.ts";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type User = Schemas["User"];
/** GET /api/auth/me: the account, and whether it is an operator's. */
export type CurrentUser =
  paths["/api/auth/me"]["get"]["responses"][200]["content"]["application/json"];
export type Task = Schemas["Task"];
export type TaskCreated = Schemas["TaskCreated"];
export type TaskPage = Schemas["TaskPage"];
export type TaskStats = Schemas["TaskStats"];
export type TaskStatus = Schemas["TaskStatus"];
export type CreateTaskBody =
  paths["/api/tasks"]["post"]["requestBody"]["content"]["application/json"];

/** One field-level problem: `path` is a JSON pointer such as `/body/items/0/quantity` or `/email`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * An error answer (RFC 9457 problem details), or a request that got no answer at all
 * (`status` 0). `errors` lists field-level problems for 422s.
 */
export class ApiProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly type: string;
  readonly errors: readonly FieldProblem[];
  /** Seconds to wait, from Retry-After (429, 503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(problem: {
    status: number;
    title: string;
    detail?: string | undefined;
    type?: string | undefined;
    errors?: readonly FieldProblem[] | undefined;
    retryAfterSeconds?: number | undefined;
  }) {
    super(problem.detail ?? problem.title);
    this.name = "ApiProblem";
    this.status = problem.status;
    this.title = problem.title;
    this.detail = problem.detail;
    this.type = problem.type ?? "about:blank";
    this.errors = problem.errors ?? [];
    this.retryAfterSeconds = problem.retryAfterSeconds;
  }

  /** From an error answer: its problem+json body if it has one, else what the status says. */
  static fromResponse(response: Response, body: unknown): ApiProblem {
    const retryAfter = Number(response.headers.get("retry-after"));
    const retryAfterSeconds =
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
    if (isProblem(body)) {
      return new ApiProblem({
        status: response.status,
        title: body.title,
        detail: body.detail,
        type: body.type,
        errors: body.errors,
        retryAfterSeconds,
      });
    }
    return new ApiProblem({
      status: response.status,
      title: response.statusText || `HTTP ${response.status}`,
      detail:
        response.status >= 500 ? "The server could not answer; try again shortly." : undefined,
      retryAfterSeconds,
    });
  }

  /** A request that never got an answer (offline, server down) or an unreadable one. */
  static unreachable(cause: unknown): ApiProblem {
    const unreadable = cause instanceof SyntaxError;
    return new ApiProblem({
      status: 0,
      title: unreadable ? "Unreadable answer" : "Network error",
      detail: unreadable
        ? "The server's answer could not be read."
        : "The server cannot be reached. Check your connection and try again.",
    });
  }

  /**
   * The message for one field, `pointer` relative to the body (`/email`, `/payload`): the API
   * writes body paths with or without a `/body` prefix, and a problem inside a field
   * (`/payload/ms`) belongs to it.
   */
  fieldError(pointer: string): string | undefined {
    for (const error of this.errors) {
      const path = bodyPointer(error.path);
      if (path === pointer) return error.message;
      if (path.startsWith(`${pointer}/`))
        return `${path.slice(pointer.length + 1)}: ${error.message}`;
    }
    return undefined;
  }

  /** The field problems that none of `pointers` claims, for a form's summary. */
  otherErrors(pointers: readonly string[]): FieldProblem[] {
    return this.errors.filter((error) => {
      const path = bodyPointer(error.path);
      return !pointers.some((p) => path === p || path.startsWith(`${p}/`));
    });
  }
}

function bodyPointer(path: string): string {
  return path.startsWith("/body/") ? path.slice("/body".length) : path;
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) return false;
  const b = body as Record<string, unknown>;
  return typeof b.title === "string" && typeof b.status === "number";
}

/** What a user should read for a problem, in one sentence. */
export function describeProblem(error: unknown): string {
  if (error instanceof ApiProblem) {
    if (error.status === 429) {
      return error.retryAfterSeconds
        ? `Too many requests: try again in ${error.retryAfterSeconds} s.`
        : "Too many requests: try again in a minute.";
    }
    const detail = error.detail ? capitalize(error.detail) : error.title;
    return /[.!?]$/.test(detail) ? detail : `${detail}.`;
  }
  return error instanceof Error ? error.message : "Something went wrong.";
}

function capitalize(text: string) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const authentication: Middleware = {
  onRequest({ request }) {
    const token = sessionStore.token();
    if (token) request.headers.set("authorization", `Bearer ${token}`);
    return request;
  },
  onResponse({ request, response }) {
    // The token expired or its account is gone: the session is over. (A 401 to a sign-in
    // carries no token and is the form's to report.)
    if (response.status === 401 && request.headers.has("authorization")) {
      sessionStore.end("expired");
    }
    return response;
  },
};

/** A client on `baseUrl` (the page's origin by default). */
export function createApiClient(baseUrl = globalThis.location?.origin ?? "") {
  const client = createClient<paths>({
    baseUrl,
    // Looked up on every call, so a test's stub of the network (and only that) is used.
    fetch: (request) => globalThis.fetch(request),
  });
  client.use(authentication);
  return client;
}

export const api = createApiClient();

/**
 * The data of a successful answer, or throws an {@link ApiProblem}:
 * `const task = await unwrap(api.GET("/api/tasks/{id}", { params: { path: { id } } }))`.
 */
export async function unwrap<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await pending;
  } catch (error) {
    throw ApiProblem.unreachable(error);
  }
  if (!result.response.ok) throw ApiProblem.fromResponse(result.response, result.error);
  return result.data as T;
}

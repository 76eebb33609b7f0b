import { vi } from "vitest";
import type { Problem, Task, TaskStats, User } from "../api/client.ts";

/** The event streams a signed-in fake serves (the monitor's only matters to operators). */
const STREAM_PATHS = new Set(["/api/events", "/api/monitor/events"]);

/** A request the app made, as the fake server saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

type Handler = (request: SeenRequest) => Response | Promise<Response>;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function problem(
  status: number,
  detail: string,
  errors?: Problem["errors"],
  headers: Record<string, string> = {},
): Response {
  const body: Problem = { type: "about:blank", title: `HTTP ${status}`, status, detail };
  if (errors) body.errors = errors;
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

/** An open text/event-stream answer the test writes events into. */
export interface FakeEventStream {
  send(event: string, data: unknown): void;
  end(): void;
}

export const ADA: User = {
  id: "0190a000-0000-7000-8000-000000000001",
  email: "ada@example.com",
  name: "Ada",
};

export function emptyStats(): TaskStats {
  return { PENDING: 0, PROCESSING: 0, RETRYING: 0, DONE: 0, FAILED: 0, CANCELLED: 0 };
}

let taskCounter = 0;

/** A task as the API returns it, newest created last by default. */
export function aTask(overrides: Partial<Task> = {}): Task {
  taskCounter += 1;
  const n = String(taskCounter).padStart(12, "0");
  return {
    id: `0190a000-0000-7000-8000-${n}`,
    type: "sleep",
    title: `task ${taskCounter}`,
    status: "PENDING",
    attempts: 0,
    max_attempts: 3,
    payload: { ms: 10 },
    result: null,
    last_error: null,
    created_at: new Date(Date.UTC(2026, 0, 1, 12, 0, taskCounter)).toISOString(),
    started_at: null,
    finished_at: null,
    run_at: null,
    priority: 5,
    ...overrides,
  };
}

/**
 * The API at the network boundary: `fetch` is replaced by a router of handlers by method and
 * path (`/api/tasks/:id` segments match anything). Unrouted requests answer 404, as the API
 * would. `signedIn` routes /api/auth/me (Ada; an operator with `operator`), the bell's
 * /api/notifications (none, until a test routes its own), and /api/events and
 * /api/monitor/events (open streams the test can write into).
 */
export function fakeApi(options: { signedIn?: boolean; operator?: boolean } = {}) {
  const routes: { method: string; pattern: RegExp; literal: boolean; handler: Handler }[] = [];
  const requests: SeenRequest[] = [];
  const streams: { path: string; stream: FakeEventStream }[] = [];
  let streamWaiters: { path: string; resolve: (stream: FakeEventStream) => void }[] = [];

  const on = (method: string, path: string, handler: Handler) => {
    const pattern = new RegExp(`^${path.replace(/:[a-z]+/g, "[^/]+")}$`);
    // Later routes win (a test overrides the defaults); a literal path beats a pattern
    // (/api/tasks/stats is not /api/tasks/:id).
    routes.unshift({ method, pattern, literal: !path.includes(":"), handler });
    routes.sort((a, b) => Number(b.literal) - Number(a.literal));
  };

  const openStream = (path: string, signal: AbortSignal | null | undefined): Response => {
    const encoder = new TextEncoder();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
    });
    const stream: FakeEventStream = {
      send(event, data) {
        controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
      },
      end() {
        controller.close();
      },
    };
    signal?.addEventListener("abort", () => {
      try {
        controller.error(new DOMException("aborted", "AbortError"));
      } catch {
        // Already closed.
      }
    });
    controller.enqueue(encoder.encode("retry: 3000\n: connected\n\n"));
    streams.push({ path, stream });
    for (const waiter of streamWaiters) if (waiter.path === path) waiter.resolve(stream);
    streamWaiters = streamWaiters.filter((waiter) => waiter.path !== path);
    return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
  };

  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request ? request.url : String(input), globalThis.location.origin);
    const method = (request?.method ?? init?.method ?? "GET").toUpperCase();
    const headers = new Headers(request?.headers ?? init?.headers);
    const text = request ? await request.text() : typeof init?.body === "string" ? init.body : "";
    const seen: SeenRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: text ? JSON.parse(text) : undefined,
    };
    requests.push(seen);
    if (method === "GET" && STREAM_PATHS.has(url.pathname) && options.signedIn) {
      return openStream(url.pathname, request?.signal ?? init?.signal);
    }
    const route = routes.find((r) => r.method === method && r.pattern.test(url.pathname));
    if (!route) return problem(404, `no route for ${method} ${url.pathname}`);
    return route.handler(seen);
  });
  vi.stubGlobal("fetch", fetch);

  if (options.signedIn) {
    on("GET", "/api/auth/me", () => json({ ...ADA, operator: options.operator ?? false }));
    on("GET", "/api/notifications", () => json({ items: [], next_cursor: null, unread_count: 0 }));
    on("POST", "/api/auth/logout", () => new Response(null, { status: 204 }));
  }

  return {
    on,
    fetch,
    requests,
    /** The requests to one method and path. */
    requestsTo(method: string, path: string) {
      return requests.filter((r) => r.method === method && r.path === path);
    },
    /** The app's open event stream at `path` (waits for it to connect). */
    eventStream(path = "/api/events"): Promise<FakeEventStream> {
      const open = streams.findLast((s) => s.path === path);
      if (open) return Promise.resolve(open.stream);
      return new Promise((resolve) => streamWaiters.push({ path, resolve }));
    },
  };
}

/** What a screen reader reads as an element's description: the text of its aria-describedby. */
export function descriptionOf(element: Element): string {
  return (element.getAttribute("aria-describedby") ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");
}

import { randomBytes } from "node:crypto";

/**
 * A small HTTP client for TaskFlow's API as end-to-end tests use it: global fetch, bearer
 * tokens, and the live event stream read as a client would.
 */

export type TaskStatusName =
  | "PENDING"
  | "PROCESSING"
  | "RETRYING"
  | "DONE"
  | "FAILED"
  | "CANCELLED";
export type TaskStats = Record<TaskStatusName, number>;

export interface TaskInput {
  type: string;
  title?: string | null;
  payload?: unknown;
  max_attempts?: number;
}

export interface TaskCreated {
  id: string;
  type: string;
  title: string | null;
  status: "PENDING";
  created_at: string;
}

export interface TaskView {
  id: string;
  type: string;
  title: string | null;
  status: TaskStatusName;
  attempts: number;
  max_attempts: number;
  payload: unknown;
  result: unknown;
  last_error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${typeof body === "string" ? body : JSON.stringify(body)}`);
    this.name = "ApiError";
  }
}

export interface Credentials {
  email: string;
  password: string;
  name: string;
}

/** A fresh, unique account's credentials. */
export function newCredentials(prefix = "e2e"): Credentials {
  const id = randomBytes(5).toString("hex");
  return {
    email: `${prefix}-${id}@example.com`,
    password: `pw-${id}-long-enough`,
    name: `${prefix} ${id}`,
  };
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  /** One request; never throws on an HTTP status (only on a network failure). */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiAnswer<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  private async expect<T>(
    status: number,
    what: string,
    ...args: Parameters<ApiClient["request"]>
  ): Promise<T> {
    const answer = await this.request<T>(...args);
    if (answer.status !== status) throw new ApiError(answer.status, answer.body, what);
    return answer.body;
  }

  register(credentials: Credentials) {
    return this.expect<{ id: string; email: string; name: string }>(
      201,
      "register",
      "POST",
      "/api/auth/register",
      credentials,
    );
  }

  /** Logs in and returns a client that sends the token. */
  async login(credentials: Pick<Credentials, "email" | "password">): Promise<ApiClient> {
    const token = await this.expect<{ access_token: string }>(
      200,
      "login",
      "POST",
      "/api/auth/login",
      {
        email: credentials.email,
        password: credentials.password,
      },
    );
    return new ApiClient(this.baseUrl, token.access_token);
  }

  createTask(input: TaskInput, idempotencyKey?: string): Promise<TaskCreated> {
    return this.expect<TaskCreated>(
      202,
      "create task",
      "POST",
      "/api/tasks",
      input,
      idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
    );
  }

  /** Submits tasks `concurrency` at a time; returns their ids in input order. */
  async createTasks(inputs: readonly TaskInput[], concurrency = 16): Promise<string[]> {
    const ids: string[] = new Array(inputs.length);
    let next = 0;
    const lane = async () => {
      while (next < inputs.length) {
        const i = next++;
        ids[i] = (await this.createTask(inputs[i] as TaskInput)).id;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, lane));
    return ids;
  }

  getTask(id: string): Promise<TaskView> {
    return this.expect<TaskView>(200, `get task ${id}`, "GET", `/api/tasks/${id}`);
  }

  stats(): Promise<TaskStats> {
    return this.expect<TaskStats>(200, "task stats", "GET", "/api/tasks/stats");
  }

  /** Opens GET /api/events; resolves once the server has answered 200 (subscribed). */
  openEvents(): Promise<TaskEventStream> {
    return TaskEventStream.open(this.baseUrl, this.token);
  }
}

/** Registers a new account, logs in, and returns the logged-in client. */
export async function signUp(
  baseUrl: string,
  credentials: Credentials = newCredentials(),
): Promise<{ client: ApiClient; credentials: Credentials; userId: string }> {
  const anonymous = new ApiClient(baseUrl);
  const user = await anonymous.register(credentials);
  return { client: await anonymous.login(credentials), credentials, userId: user.id };
}

export interface TaskEvent {
  id: string;
  status: TaskStatusName;
}

/** The `task.updated` events of one SSE connection, in arrival order. */
export class TaskEventStream {
  readonly events: TaskEvent[] = [];
  /** Anything received that was not a well-formed task.updated event or comment. */
  readonly malformed: string[] = [];
  /** Resolves when the stream ends (server closed it, or close() was called). */
  readonly ended: Promise<void>;
  private readonly controller: AbortController;

  private constructor(response: Response, controller: AbortController) {
    this.controller = controller;
    this.ended = this.read(response);
  }

  static async open(baseUrl: string, token?: string): Promise<TaskEventStream> {
    const controller = new AbortController();
    const response = await fetch(`${baseUrl}/api/events`, {
      headers: {
        accept: "text/event-stream",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      signal: controller.signal,
    });
    if (response.status !== 200 || !response.body) {
      const text = await response.text().catch(() => "");
      throw new ApiError(response.status, text, "open the event stream");
    }
    return new TaskEventStream(response, controller);
  }

  private async read(response: Response) {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, "\n");
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // aborted by close(), or the server went away
    }
  }

  private parse(block: string) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (event === "message" && data.length === 0) return; // retry: or comments only
    if (event !== "task.updated") {
      this.malformed.push(block);
      return;
    }
    try {
      const parsed = JSON.parse(data.join("\n")) as TaskEvent;
      if (typeof parsed.id !== "string" || typeof parsed.status !== "string") throw new Error();
      this.events.push({ id: parsed.id, status: parsed.status });
    } catch {
      this.malformed.push(block);
    }
  }

  /** How many events each task id got with `status`. */
  countBy(status: TaskStatusName): Map<string, number> {
    const counts = new Map<string, number>();
    for (const e of this.events) {
      if (e.status === status) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
    }
    return counts;
  }

  close(): Promise<void> {
    this.controller.abort();
    return this.ended;
  }
}

import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildApp, createUserRepository } from "@taskflow/api";
import { grpcOrderValidator } from "@taskflow/api/grpc-order-validator";
import { type AuthUser, createTokenService, hashPassword, type TokenService } from "@taskflow/auth";
import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import { createEmbeddedJobQueue, createEmbeddedTaskQueue } from "@taskflow/messaging";
import { createLogger, createMetrics } from "@taskflow/observability";
import {
  createTestDatabase,
  engineAvailable,
  type TestDatabase,
  testEngines,
  uniqueName,
} from "@taskflow/testing";
import {
  createProductRepository,
  createValidatorClient,
  createValidatorServer,
  type ValidatorServer,
} from "@taskflow/validator";
import { taskHandlers } from "@taskflow/worker/handlers";
import type { FastifyInstance } from "fastify";

/**
 * The system the security suite attacks, as `taskflow start` wires it but in this process:
 * the HTTP API (every optional part on: the monitor with its queues, the analytics, the
 * development mail sink, the built web app) listening on a real loopback port, on a
 * PostgreSQL database of its own, rate-limit counters in Redis under a prefix of its own,
 * and the gRPC validator on its own loopback port, called by the API with its service token.
 */

export interface Account extends AuthUser {
  password: string;
  /** A token exactly as POST /api/auth/login would issue it. */
  token: string;
  operator: boolean;
}

export interface SecuritySystem {
  /** http://127.0.0.1:<port> of the API. */
  base: string;
  app: FastifyInstance;
  database: DatabaseHandle;
  tokens: TokenService;
  /** The token service's clock: Date.now() plus `offsetMs` (to see tokens expire). */
  clock: { offsetMs: number };
  /** The HS256 secret the services share (the attacks that assume it leaked use it). */
  secret: string;
  /** host:port of the validator's gRPC server. */
  validatorUrl: string;
  /** The token the API itself sends to the validator (a service's, not a user's). */
  serviceToken(): Promise<string>;
  /** The built web app's folder the API serves at /. */
  webRoot: string;
  /** A fresh account: a user, or an operator (an address of the admin list, not used yet). */
  account(kind?: "user" | "operator"): Promise<Account>;
  close(): Promise<void>;
}

export interface SecuritySystemOptions {
  /** How many operator accounts the run may create (each needs its address in the list). */
  operators?: number;
  loginRateLimitPerMinute?: number;
  loginRateLimitPerAddressPerMinute?: number;
  /** Client addresses from X-Forwarded-For (as behind nginx): tests pick their address. */
  trustProxy?: boolean;
  /** Where the web app's files are; a stand-in index.html and asset otherwise. */
  webRoot?: string;
}

/** Accounts of model runs share one real argon2id hash: hashing is not what they test. */
let sharedHash: Promise<string> | undefined;
const SHARED_PASSWORD = "correct horse battery staple";

/**
 * Whether the suite can run here: PostgreSQL and Redis answer. false (the files skip) when
 * they do not; with TASKFLOW_REQUIRE_SERVICES=1 (CI) that is an error instead.
 */
export async function enginesAvailable(): Promise<boolean> {
  return (await engineAvailable("postgres")) && (await engineAvailable("redis"));
}

export async function startSecuritySystem(
  options: SecuritySystemOptions = {},
): Promise<SecuritySystem> {
  const stamp = randomBytes(4).toString("hex");
  const operatorEmails = Array.from(
    { length: options.operators ?? 4 },
    (_, i) => `operator-${i}-${stamp}@ops.example.com`,
  );
  let operatorsUsed = 0;
  let accounts = 0;

  const testDatabase: TestDatabase = await createTestDatabase("taskflow_security");
  const database = await createDatabase({ url: testDatabase.url, dataDir: "unused", poolSize: 8 });
  const closers: (() => Promise<unknown> | unknown)[] = [
    () => testDatabase.drop(),
    () => database.close(),
  ];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    await migrateUp(database.db);
    const secret = randomBytes(32).toString("hex");
    const clock = { offsetMs: 0 };
    const tokens = createTokenService({
      secret,
      ttlSeconds: 300,
      now: () => Date.now() + clock.offsetMs,
    });
    const logger = createLogger({ level: "silent", service: "security-test" });

    const validator: ValidatorServer = createValidatorServer({
      products: createProductRepository(database.db),
      tokens,
      logger,
    });
    const { url: validatorUrl } = await validator.listen("127.0.0.1", 0);
    closers.push(() => validator.shutdown(1_000));
    // As packages/cli does for the api role: the API calls the validator as itself.
    const serviceToken = async () => (await tokens.issueService("api")).access_token;
    const validatorClient = createValidatorClient(validatorUrl, serviceToken);
    closers.push(() => validatorClient.close());

    const taskQueue = createEmbeddedTaskQueue({ database, queue: uniqueName("sec.tasks") });
    const jobQueue = createEmbeddedJobQueue({ database, queue: uniqueName("sec.jobs") });
    closers.push(
      () => taskQueue.close(),
      () => jobQueue.close(),
    );

    let webRoot = options.webRoot;
    if (!webRoot) {
      const root = mkdtempSync(path.join(tmpdir(), "taskflow-security-web-"));
      mkdirSync(path.join(root, "assets"));
      writeFileSync(
        path.join(root, "index.html"),
        '<!doctype html><html><head><script type="module" src="/assets/app.js"></script></head><body><div id="root"></div></body></html>\n',
      );
      writeFileSync(path.join(root, "assets/app.js"), "export {};\n");
      closers.push(() => rmSync(root, { recursive: true, force: true }));
      webRoot = root;
    }

    const app = await buildApp({
      database,
      orderValidator: grpcOrderValidator(validatorClient),
      tokens,
      handlers: taskHandlers,
      logger,
      metrics: createMetrics("security-test"),
      checks: { database: () => database.ping() },
      loginRateLimitPerMinute: options.loginRateLimitPerMinute ?? 1_000,
      ...(options.loginRateLimitPerAddressPerMinute
        ? { loginRateLimitPerAddressPerMinute: options.loginRateLimitPerAddressPerMinute }
        : {}),
      rateLimitRedisUrl: testEngines.redisUrl,
      rateLimitKeyPrefix: `${uniqueName("taskflow-security")}:`,
      cookieSecure: false,
      trustProxy: options.trustProxy ?? false,
      devMail: true,
      adminEmails: operatorEmails,
      taskQueue,
      jobQueue,
      webDir: webRoot,
    });
    closers.push(() => app.close());
    const base = await app.listen({ host: "127.0.0.1", port: 0 });

    const users = createUserRepository(database.db);
    return {
      base,
      app,
      database,
      tokens,
      clock,
      secret,
      validatorUrl,
      serviceToken,
      webRoot,
      async account(kind = "user") {
        let email: string;
        if (kind === "operator") {
          const next = operatorEmails[operatorsUsed++];
          if (!next) throw new Error("no operator address left: raise `operators`");
          email = next;
        } else {
          email = `user-${accounts}-${stamp}@example.com`;
        }
        accounts++;
        const name = `${kind} ${accounts}`;
        sharedHash ??= hashPassword(SHARED_PASSWORD);
        // Inserted as `taskflow user create` does (operators cannot register over HTTP), with
        // one shared hash: argon2 is tested on its own, not paid for by every model run.
        const created = await users.create({ email, name, passwordHash: await sharedHash });
        if (!created) throw new Error(`account ${email} exists`);
        const issued = await tokens.issue({ id: created.id, email, name });
        return {
          id: created.id,
          email,
          name,
          password: SHARED_PASSWORD,
          token: issued.access_token,
          operator: kind === "operator",
        };
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined. */
  body: unknown;
}

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * One HTTP request over a real socket. An event stream's body is not read (it never ends):
 * the answer is its status and headers, and the connection is closed.
 */
export async function call(
  base: string,
  method: string,
  url: string,
  options: CallOptions = {},
): Promise<Answer> {
  const controller = new AbortController();
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers["content-type"] ??= "application/json";
  const response = await fetch(`${base}${url}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    signal: controller.signal,
    redirect: "manual",
  });
  if (response.headers.get("content-type")?.startsWith("text/event-stream")) {
    controller.abort();
    await response.body?.cancel().catch(() => undefined);
    return { status: response.status, headers: response.headers, text: "", body: undefined };
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** An open Server-Sent Events stream: every event it received, in order. */
export interface EventStream {
  status: number;
  events: StreamEvent[];
  close(): Promise<void>;
}

/** Opens an event stream with these headers; the events are collected until `close`. */
export async function openStream(
  base: string,
  url: string,
  headers: Record<string, string>,
): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(`${base}${url}`, {
    headers: { accept: "text/event-stream", ...headers },
    signal: controller.signal,
  });
  const events: StreamEvent[] = [];
  if (response.status !== 200 || !response.body) {
    await response.text().catch(() => "");
    return { status: response.status, events, close: async () => undefined };
  }
  const body = response.body;
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "";
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (event) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // closed
    }
  })();
  return {
    status: 200,
    events,
    async close() {
      controller.abort();
      await reading;
    },
  };
}

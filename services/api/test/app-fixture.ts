import { randomBytes } from "node:crypto";
import { createTokenService, type TokenService } from "@taskflow/auth";
import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import {
  createEmbeddedJobQueue,
  createEmbeddedTaskQueue,
  type JobQueue,
  type TaskQueue,
} from "@taskflow/messaging";
import {
  createLogger,
  createMetrics,
  type Logger,
  type ReadinessChecks,
} from "@taskflow/observability";
import { createTestDatabase, engineAvailable } from "@taskflow/testing";
import {
  createProductRepository,
  createValidatorClient,
  createValidatorServer,
} from "@taskflow/validator";
import { taskHandlers } from "@taskflow/worker/handlers";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/app.ts";
import { grpcOrderValidator } from "../src/modules/orders/grpc-order-validator.ts";

export interface AppFixture {
  app: FastifyInstance;
  database: DatabaseHandle;
  tokens: TokenService;
  secret: string;
  /** With `embeddedQueues`: the queues the API monitors, on the fixture's database. */
  taskQueue?: TaskQueue;
  jobQueue?: JobQueue;
  /** With `validator`: the real validator service (gRPC on loopback), to stop and restart. */
  validator?: { stop(): Promise<void>; start(): Promise<void> };
  /** Another API process on the same database and options (closed with the fixture). */
  replica(): Promise<FastifyInstance>;
  close(): Promise<void>;
}

/**
 * The API wired to a fresh PostgreSQL database of its own (or undefined when PostgreSQL is
 * not there and not required). Requests go through `app.inject`: the full HTTP pipeline,
 * validation and serialization included, without a port.
 */
export async function openAppFixture(
  options: {
    checks?: ReadinessChecks;
    loginRateLimitPerMinute?: number;
    loginRateLimitPerAddressPerMinute?: number;
    taskRateLimitPerMinute?: number;
    rateLimitRedisUrl?: string;
    rateLimitKeyPrefix?: string;
    adminEmails?: string[];
    /** Give the API (for /api/monitor) the embedded task and job queues on its database. */
    embeddedQueues?: boolean;
    /** Run the validator service (gRPC, on the fixture's database and tokens) for orders. */
    validator?: boolean;
    /** The API's logger (default: silent). */
    logger?: Logger;
  } = {},
): Promise<AppFixture | undefined> {
  if (!(await engineAvailable("postgres"))) return undefined;
  const testDb = await createTestDatabase("taskflow_api");
  const database = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 5 });
  await migrateUp(database.db);
  const secret = randomBytes(32).toString("hex");
  const tokens = createTokenService({ secret, ttlSeconds: 300 });
  const queues = options.embeddedQueues
    ? {
        taskQueue: createEmbeddedTaskQueue({ database, queue: "api-test.tasks", pollMs: 100 }),
        jobQueue: createEmbeddedJobQueue({ database, queue: "api-test.jobs", pollMs: 100 }),
      }
    : {};
  const validator = options.validator ? await startValidator(database, tokens) : undefined;
  const build = () =>
    buildApp({
      ...(validator ? { orderValidator: validator.orders } : {}),
      database,
      tokens,
      handlers: taskHandlers,
      logger: options.logger ?? createLogger({ level: "silent", service: "api-test" }),
      metrics: createMetrics("api-test"),
      checks: options.checks ?? { database: () => database.ping() },
      loginRateLimitPerMinute: options.loginRateLimitPerMinute ?? 1_000,
      ...(options.loginRateLimitPerAddressPerMinute
        ? { loginRateLimitPerAddressPerMinute: options.loginRateLimitPerAddressPerMinute }
        : {}),
      ...(options.taskRateLimitPerMinute
        ? { taskRateLimitPerMinute: options.taskRateLimitPerMinute }
        : {}),
      cookieSecure: false,
      adminEmails: options.adminEmails ?? [],
      ...(options.rateLimitRedisUrl ? { rateLimitRedisUrl: options.rateLimitRedisUrl } : {}),
      ...(options.rateLimitKeyPrefix ? { rateLimitKeyPrefix: options.rateLimitKeyPrefix } : {}),
      ...queues,
    });
  const app = await build();
  await app.ready();
  const replicas: FastifyInstance[] = [];
  return {
    app,
    database,
    tokens,
    secret,
    ...queues,
    ...(validator ? { validator: { stop: validator.stop, start: validator.start } } : {}),
    async replica() {
      const replica = await build();
      replicas.push(replica);
      await replica.ready();
      return replica;
    },
    async close() {
      for (const replica of replicas) await replica.close();
      await app.close();
      await validator?.close();
      await queues.taskQueue?.close();
      await queues.jobQueue?.close();
      await database.close();
      await testDb.drop();
    },
  };
}

let counter = 0;

/** Registers and logs in a fresh user; returns its id, token and auth header. */
export async function signUp(app: FastifyInstance, name = "Ada") {
  const email = `user${process.pid}-${Date.now()}-${counter++}@example.com`;
  const password = "correct horse battery";
  const registered = await app.inject({
    method: "POST",
    url: "/api/auth/register",
    payload: { email, password, name },
  });
  if (registered.statusCode !== 201)
    throw new Error(`register: ${registered.statusCode} ${registered.body}`);
  const login = await app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { email, password },
  });
  const token = login.json<{ access_token: string }>().access_token;
  return {
    id: registered.json<{ id: string }>().id,
    email,
    password,
    token,
    auth: { authorization: `Bearer ${token}` },
  };
}

/** The validator service on its own loopback port, and the API's client of it. */
async function startValidator(database: DatabaseHandle, tokens: TokenService) {
  const build = () =>
    createValidatorServer({
      products: createProductRepository(database.db),
      tokens,
      logger: createLogger({ level: "silent", service: "validator-test" }),
    });
  let server = build();
  const { port, url } = await server.listen("127.0.0.1", 0);
  const client = createValidatorClient(url, async () => {
    const issued = await tokens.issueService("api");
    return issued.access_token;
  });
  let running = true;
  return {
    orders: grpcOrderValidator(client),
    async stop() {
      if (!running) return;
      running = false;
      await server.shutdown(1_000);
    },
    /** Again on the same port: the client finds it where it was. */
    async start() {
      if (running) return;
      server = build();
      await server.listen("127.0.0.1", port);
      running = true;
    },
    async close() {
      client.close();
      if (running) await server.shutdown(1_000);
    },
  };
}

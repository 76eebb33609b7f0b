import { randomBytes } from "node:crypto";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { loadConfig } from "@taskflow/config";
import { migrateUp } from "@taskflow/db";
import {
  flushTracing,
  initTracing,
  SpanKind,
  shutdownTracing,
  traceIdOf,
} from "@taskflow/observability";
import {
  type ApiClient,
  createTestDatabase,
  engineAvailable,
  openRabbitMqVhost,
  type RabbitMqSite,
  requireServices,
  signUp,
  type TestDatabase,
  testEngines,
  uniqueName,
  waitFor,
} from "@taskflow/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  openRuntime,
  type RunningRole,
  type Runtime,
  startAnalytics,
  startApi,
  startMailer,
  startNotifier,
  startRelay,
  startValidator,
  startWorker,
} from "../src/index.ts";

/**
 * One trace per request across every hop, on the real engines (PostgreSQL, RabbitMQ for the
 * task queue and the event bus, BullMQ on Redis for the email jobs; the embedded event stream,
 * whose fixed topic names a shared Kafka would mix with other runs'): the roles run in this
 * process, as under `taskflow start`, with spans going to an in-memory exporter.
 */

interface Hop {
  service: string;
  step: string;
  at: string;
  duration_ms: number | null;
  trace_id: string | null;
}
interface Journey {
  id: string;
  trace_id: string | null;
  hops: Hop[];
}

const patience = { timeoutMs: 60_000, intervalMs: 200 };

const available =
  (await engineAvailable("postgres")) &&
  (await engineAvailable("rabbitmq")) &&
  (await engineAvailable("redis"));

describe.skipIf(!available && !requireServices)("tracing across the services", () => {
  const exporter = new InMemorySpanExporter();
  let database: TestDatabase;
  let rabbit: RabbitMqSite;
  let rt: Runtime;
  const roles: RunningRole[] = [];
  let customer: ApiClient;
  let stranger: ApiClient;
  const jobQueue = uniqueName("taskflow.tracing.jobs");

  /** The finished spans of one trace, after the exporter had them. */
  async function spansOf(traceId: string): Promise<ReadableSpan[]> {
    await flushTracing();
    return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  }
  const service = (span: ReadableSpan) => span.resource.attributes["service.name"];

  beforeAll(async () => {
    await initTracing({ exporter });
    database = await createTestDatabase("taskflow_tracing");
    rabbit = await openRabbitMqVhost("taskflow_tracing");
    const config = loadConfig({
      NODE_ENV: "test",
      TASKFLOW_DATABASE_URL: database.url,
      TASKFLOW_AMQP_URL: rabbit.url,
      TASKFLOW_TASK_QUEUE: uniqueName("taskflow.tracing.tasks"),
      TASKFLOW_REDIS_URL: testEngines.redisUrl,
      TASKFLOW_JOB_QUEUE: jobQueue,
      TASKFLOW_DATA_DIR: "memory://",
      TASKFLOW_JWT_SECRET: randomBytes(32).toString("hex"),
      TASKFLOW_LOG_LEVEL: "silent",
      TASKFLOW_WEB_DIR: "/nonexistent",
    });
    rt = await openRuntime(config, "tracing-test");
    await migrateUp(rt.database.db);
    const validator = await startValidator(rt, { host: "127.0.0.1", port: 0 });
    roles.push(validator);
    const api = await startApi(rt, { port: 0, validatorUrl: validator.url });
    roles.push(api);
    roles.push(await startRelay(rt));
    roles.push(await startWorker(rt));
    roles.push(await startNotifier(rt));
    roles.push(await startAnalytics(rt));
    roles.push(await startMailer(rt));
    customer = (await signUp(api.url)).client;
    stranger = (await signUp(api.url)).client;
  });

  afterAll(async () => {
    for (const role of roles.reverse()) await role.stop().catch(() => {});
    await rt?.close();
    await shutdownTracing();
    const redis = new Redis(testEngines.redisUrl);
    const keys = await redis.keys(`bull:${jobQueue}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await rabbit?.cleanup();
    await database?.drop();
  });

  it("follows a task from the HTTP request through the relay and RabbitMQ to the worker", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const created = await customer.request<{ id: string }>(
      "POST",
      "/api/tasks",
      { type: "echo", payload: { hello: "trace" } },
      { traceparent },
    );
    expect(created.status).toBe(202);
    const id = created.body.id;
    const journey = await waitFor(async () => {
      const answer = await customer.request<Journey>("GET", `/api/tasks/${id}/journey`);
      const j = answer.body;
      return answer.status === 200 && j.hops.some((h) => h.service === "analytics") ? j : undefined;
    }, patience);
    const traceId = traceIdOf(traceparent) as string;
    // The journey: the request's trace id on every hop, in the pipeline's order.
    expect(journey.trace_id).toBe(traceId);
    expect(journey.hops.map((h) => h.service)).toEqual([
      "api",
      "relay",
      "worker",
      "worker",
      "analytics",
    ]);
    for (const hop of journey.hops) {
      expect(hop.trace_id).toBe(traceId);
      expect(Number.isNaN(Date.parse(hop.at))).toBe(false);
    }
    expect(journey.hops[2]?.duration_ms).toBeGreaterThanOrEqual(0);

    const spans = await waitFor(async () => {
      const found = await spansOf(traceId);
      return found.some((s) => service(s) === "taskflow-analytics") ? found : undefined;
    }, patience);
    const server = spans.find((s) => s.kind === SpanKind.SERVER && service(s) === "taskflow-api");
    const publish = spans.find(
      (s) => s.kind === SpanKind.PRODUCER && s.attributes["messaging.system"] === "rabbitmq",
    );
    const processed = spans.find(
      (s) => s.kind === SpanKind.CONSUMER && service(s) === "taskflow-worker",
    );
    expect(server?.name).toBe("POST /api/tasks");
    // The incoming traceparent is the request span's parent: one trace from the client on.
    expect(server?.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(service(publish as ReadableSpan)).toBe("taskflow-relay");
    expect(publish?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    expect(publish?.attributes["messaging.operation.type"]).toBe("send");
    expect(processed?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    expect(processed?.attributes).toMatchObject({
      "messaging.system": "rabbitmq",
      "messaging.operation.type": "process",
      "taskflow.task.id": id,
      "taskflow.task.status": "DONE",
    });
    // The task.done event: on the embedded stream the worker appends it in the transaction
    // that ends the task (no relay hop), carrying its attempt's context; analytics counts it
    // as a child of that attempt (the outcome that made it).
    const counted = spans.find(
      (s) => s.kind === SpanKind.CONSUMER && service(s) === "taskflow-analytics",
    );
    expect(counted?.parentSpanContext?.spanId).toBe(processed?.spanContext().spanId);
  });

  it("follows an order through the validator (gRPC), the relay, the notifier, analytics and the mailer", async () => {
    const placed = await customer.request<{ id: string }>("POST", "/api/orders", {
      items: [{ sku: "KB-101", quantity: 1 }],
    });
    expect(placed.status).toBe(201);
    const id = placed.body.id;
    const journey = await waitFor(async () => {
      const answer = await customer.request<Journey>("GET", `/api/orders/${id}/journey`);
      const services = new Set(answer.body.hops?.map((h) => h.service));
      return answer.status === 200 &&
        ["notifier", "analytics", "mailer"].every((s) => services.has(s)) &&
        answer.body.hops.some((h) => h.service === "mailer" && h.duration_ms !== null)
        ? answer.body
        : undefined;
    }, patience);
    const traceId = journey.trace_id as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(journey.hops[0]?.service).toBe("validator");
    expect(journey.hops[1]?.service).toBe("api");
    expect(journey.hops.every((h) => h.trace_id === traceId)).toBe(true);

    const spans = await waitFor(async () => {
      const found = await spansOf(traceId);
      const services = new Set(found.map(service));
      return [
        "taskflow-api",
        "taskflow-validator",
        "taskflow-relay",
        "taskflow-notifier",
        "taskflow-analytics",
        "taskflow-mailer",
      ].every((s) => services.has(s))
        ? found
        : undefined;
    }, patience);
    const server = spans.find((s) => s.kind === SpanKind.SERVER && service(s) === "taskflow-api");
    const client = spans.find((s) => s.kind === SpanKind.CLIENT && service(s) === "taskflow-api");
    const grpcServer = spans.find(
      (s) => s.kind === SpanKind.SERVER && service(s) === "taskflow-validator",
    );
    expect(client?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    expect(grpcServer?.name).toBe("taskflow.orders.v1.OrderValidationService/ValidateOrder");
    expect(grpcServer?.parentSpanContext?.spanId).toBe(client?.spanContext().spanId);
    expect(grpcServer?.attributes["rpc.system"]).toBe("grpc");
    const notifier = spans.find(
      (s) => s.kind === SpanKind.CONSUMER && service(s) === "taskflow-notifier",
    );
    const busPublish = spans.find(
      (s) => s.spanContext().spanId === notifier?.parentSpanContext?.spanId,
    );
    expect(busPublish?.kind).toBe(SpanKind.PRODUCER);
    expect(service(busPublish as ReadableSpan)).toBe("taskflow-relay");
    const analytics = spans.find(
      (s) => s.kind === SpanKind.CONSUMER && service(s) === "taskflow-analytics",
    );
    expect(analytics?.attributes["messaging.destination.name"]).toBe("orders");
    // The confirmation email: notifier → outbox → relay (job add) → BullMQ → mailer.
    const mailer = spans.find(
      (s) => s.kind === SpanKind.CONSUMER && service(s) === "taskflow-mailer",
    );
    expect(mailer?.attributes["messaging.system"]).toBe("bullmq");
    const jobAdd = spans.find((s) => s.spanContext().spanId === mailer?.parentSpanContext?.spanId);
    expect(jobAdd?.attributes["messaging.operation.name"]).toBe("add");
    expect(jobAdd?.parentSpanContext?.spanId).toBe(notifier?.spanContext().spanId);
  });

  it("shows a journey to its owner only: another user's task or order is 404, like a missing one", async () => {
    const task = await customer.request<{ id: string }>("POST", "/api/tasks", { type: "echo" });
    const order = await customer.request<{ id: string }>("POST", "/api/orders", {
      items: [{ sku: "MS-201", quantity: 2 }],
    });
    for (const path of [
      `/api/tasks/${task.body.id}/journey`,
      `/api/orders/${order.body.id}/journey`,
    ]) {
      expect((await customer.request("GET", path)).status).toBe(200);
      const theirs = await stranger.request("GET", path);
      expect(theirs.status).toBe(404);
      expect(theirs.headers.get("content-type")).toContain("application/problem+json");
      expect(
        (await stranger.request("GET", path.replace(/[0-9a-f-]{36}/, "not-a-uuid"))).status,
      ).toBe(404);
    }
    const anonymous = await fetch(`${customer.baseUrl}/api/tasks/${task.body.id}/journey`);
    expect(anonymous.status).toBe(401);
  });
});

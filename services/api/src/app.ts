import { randomUUID } from "node:crypto";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { ANALYTICS_GROUP } from "@taskflow/analytics";
import { authPlugin, type TokenService } from "@taskflow/auth";
import { DEFAULT_JOB_QUEUE } from "@taskflow/config";
import type { DatabaseHandle } from "@taskflow/db";
import type { JobQueue, TaskQueue } from "@taskflow/messaging";
import { createNotificationRepository } from "@taskflow/notifications";
import {
  type Logger,
  type Metrics,
  type ReadinessChecks,
  registerOpsRoutes,
  type Tracer,
} from "@taskflow/observability";
import { createOrderRepository } from "@taskflow/orders";
import { createScheduleRepository, createTaskRepository } from "@taskflow/tasks";
import type { TaskHandlerRegistry } from "@taskflow/worker/handlers";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { registerInputLimits } from "./http/input-limits.ts";
import {
  clientErrorProblem,
  documentProblemMediaType,
  frameworkErrorProblem,
  ProblemSchema,
  registerProblemHandlers,
} from "./http/problem.ts";
import { registerTracing } from "./http/tracing.ts";
import { validatorCompiler } from "./http/validation.ts";
import { createAnalyticsRepository } from "./modules/analytics/analytics.repository.ts";
import { analyticsRoutes } from "./modules/analytics/analytics.routes.ts";
import { analyticsSchemas } from "./modules/analytics/analytics.schemas.ts";
import { createAnalyticsService } from "./modules/analytics/analytics.service.ts";
import { devMailRoutes } from "./modules/dev/dev-mail.routes.ts";
import { eventRoutes } from "./modules/events/event.routes.ts";
import { createNotificationHub } from "./modules/events/notification-hub.ts";
import { createTaskEventHub } from "./modules/events/task-event-hub.ts";
import { createJourneyRepository } from "./modules/journeys/journey.repository.ts";
import { orderJourneyRoutes, taskJourneyRoutes } from "./modules/journeys/journey.routes.ts";
import { journeySchemas } from "./modules/journeys/journey.schemas.ts";
import { createJourneyService } from "./modules/journeys/journey.service.ts";
import { createMonitorRepository } from "./modules/monitor/monitor.repository.ts";
import { monitorRoutes } from "./modules/monitor/monitor.routes.ts";
import { monitorSchemas } from "./modules/monitor/monitor.schemas.ts";
import { createMonitorService } from "./modules/monitor/monitor.service.ts";
import {
  NotificationPageSchema,
  NotificationSchema,
  notificationRoutes,
} from "./modules/notifications/notification.routes.ts";
import { orderRoutes, productRoutes } from "./modules/orders/order.routes.ts";
import {
  OrderLineSchema,
  OrderPageSchema,
  OrderSchema,
  ProductSchema,
} from "./modules/orders/order.schemas.ts";
import { createOrderService } from "./modules/orders/order.service.ts";
import { type OrderValidator, ValidatorUnavailable } from "./modules/orders/order-validator.ts";
import { scheduleRoutes } from "./modules/schedules/schedule.routes.ts";
import { SchedulePageSchema, ScheduleSchema } from "./modules/schedules/schedule.schemas.ts";
import { createScheduleService } from "./modules/schedules/schedule.service.ts";
import { taskRoutes } from "./modules/tasks/task.routes.ts";
import {
  TaskCreatedSchema,
  TaskPageSchema,
  TaskSchema,
  TaskStatsSchema,
  TaskStatusSchema,
} from "./modules/tasks/task.schemas.ts";
import { createTaskService } from "./modules/tasks/task.service.ts";
import { authRoutes } from "./modules/users/auth.routes.ts";
import { createUserRepository } from "./modules/users/user.repository.ts";
import { UserSchema } from "./modules/users/user.schemas.ts";
import { createUserService } from "./modules/users/user.service.ts";
import { webRoutes } from "./modules/web/web.routes.ts";

export { isWebAppBuilt, WEB_SECURITY_HEADERS } from "./modules/web/web.routes.ts";

/** Stands in when no validator is configured: every order waits for one (503). */
const noValidator: OrderValidator = {
  validate: async () => {
    throw new ValidatorUnavailable("no validator configured");
  },
  listProducts: async () => {
    throw new ValidatorUnavailable("no validator configured");
  },
};

export interface ApiDependencies {
  database: DatabaseHandle;
  /**
   * The validator service (orders are checked and priced by it). Without one, /api/orders
   * and /api/products answer 503.
   */
  orderValidator?: OrderValidator;
  tokens: TokenService;
  handlers: TaskHandlerRegistry;
  logger: Logger;
  metrics: Metrics;
  /** Readiness: the database and the task queue must answer. */
  checks: ReadinessChecks;
  loginRateLimitPerMinute: number;
  /** Login attempts per client address per minute (default 10 × the per-email limit). */
  loginRateLimitPerAddressPerMinute?: number;
  /** Task submissions per user per minute (default 6,000). */
  taskRateLimitPerMinute?: number;
  /**
   * Redis for the rate limits' counters, shared by every API process; without it each process
   * counts alone (N replicas, N budgets). While it is unreachable, requests are not limited.
   */
  rateLimitRedisUrl?: string | undefined;
  /** Prefix of those counters' keys (default "taskflow:rate-limit:"). */
  rateLimitKeyPrefix?: string;
  cookieSecure: boolean;
  /** Trust X-Forwarded-For from a proxy in front (nginx), for client IPs in rate limits and logs. */
  trustProxy?: boolean;
  /** Serve GET /api/dev/mail (the embedded mail sink's inbox); never in production. */
  devMail?: boolean;
  /** Who may use /api/monitor (compared lower-cased); nobody when empty. */
  adminEmails?: readonly string[];
  /** The engines the monitor reports on and acts upon; without one, it shows what it has. */
  taskQueue?: TaskQueue;
  jobQueue?: JobQueue;
  /**
   * The built web app (index.html, assets/) to serve at /, with a history fallback for the
   * app's pages; none without it. A folder without an index.html is warned about and skipped.
   */
  webDir?: string | undefined;
  /** Tracing on: a SERVER span per request (see http/tracing.ts); off when undefined. */
  tracer?: Tracer | undefined;
  /** The analytics consumer group whose processed ids journeys read (default ANALYTICS_GROUP). */
  analyticsGroup?: string;
}

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** The rate-limit counters' key prefix in Redis when none is given: the same for every API process. */
export const RATE_LIMIT_KEY_PREFIX = "taskflow:rate-limit:";

/**
 * Request headers, all together (Node's default is 16 KiB). Room for an access token of up to
 * about 16 KiB in the Authorization header or the session cookie, so that an oversized token
 * gets the same 401 as any other bad token, not a header-size error that tells them apart.
 */
export const MAX_HEADER_BYTES = 32 * 1024;

/** The wired API, ready to `listen` or to `inject` requests in tests. */
export async function buildApp(deps: ApiDependencies): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance: logger,
    // One access line per request is written in onResponse, not Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    trustProxy: deps.trustProxy ?? false,
    requestIdHeader: "x-request-id",
    genReqId: () => randomUUID(),
    // What Node's parser or the router refuse is problem+json too, like every error.
    clientErrorHandler: clientErrorProblem,
    frameworkErrors: frameworkErrorProblem,
    ajv: {
      // Unknown fields are refused (422), not silently dropped.
      customOptions: {
        removeAdditional: false,
        coerceTypes: "array",
        useDefaults: true,
        allErrors: false,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler());
  registerProblemHandlers(app);
  registerInputLimits(app);
  registerTracing(app, deps.tracer);
  for (const schema of [
    ProblemSchema,
    UserSchema,
    TaskStatusSchema,
    TaskSchema,
    TaskCreatedSchema,
    TaskPageSchema,
    TaskStatsSchema,
    ScheduleSchema,
    SchedulePageSchema,
    OrderLineSchema,
    OrderSchema,
    OrderPageSchema,
    ProductSchema,
    NotificationSchema,
    NotificationPageSchema,
    ...monitorSchemas,
    ...analyticsSchemas,
    ...journeySchemas,
  ]) {
    app.addSchema(schema);
  }

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "TaskFlow API",
        version: "0.1.0",
        description:
          "Submit tasks, watch them run, and read their results. Errors are application/problem+json (RFC 9457).",
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
          sessionCookie: { type: "apiKey", in: "cookie", name: "taskflow_session" },
        },
      },
    },
    transformObject: (document) =>
      "openapiObject" in document
        ? documentProblemMediaType(document.openapiObject)
        : document.swaggerObject,
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  // ioredis is loaded only by an API that counts in Redis.
  const rateLimitRedis = deps.rateLimitRedisUrl
    ? await (await import("./http/rate-limit-redis.ts")).createRateLimitRedis(
        deps.rateLimitRedisUrl,
        deps.logger,
      )
    : undefined;
  if (rateLimitRedis) app.addHook("onClose", async () => rateLimitRedis.disconnect());
  // preHandler: the key includes the email from the parsed body.
  await app.register(rateLimit, {
    global: false,
    hook: "preHandler",
    ...(rateLimitRedis && {
      redis: rateLimitRedis,
      nameSpace: deps.rateLimitKeyPrefix ?? RATE_LIMIT_KEY_PREFIX,
      skipOnError: true,
    }),
  });
  await app.register(authPlugin, { tokens: deps.tokens });

  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    deps.metrics.httpDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    // request.log already carries the request id (reqId).
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (reply.statusCode >= 500) request.log.error(line, "request failed");
    else request.log.info(line, "request");
  });

  const tasks = createTaskRepository(deps.database.db);
  const users = createUserService({
    users: createUserRepository(deps.database.db),
    tokens: deps.tokens,
    reservedEmails: deps.adminEmails ?? [],
  });
  const hub = createTaskEventHub(deps.database, (error) =>
    app.log.error({ err: error }, "bad task event"),
  );
  const notificationHub = createNotificationHub(deps.database, (error) =>
    app.log.error({ err: error }, "bad notification event"),
  );

  await app.register(authRoutes, {
    prefix: "/api/auth",
    users,
    loginRateLimitPerMinute: deps.loginRateLimitPerMinute,
    loginRateLimitPerAddressPerMinute:
      deps.loginRateLimitPerAddressPerMinute ?? deps.loginRateLimitPerMinute * 10,
    cookieSecure: deps.cookieSecure,
  });
  await app.register(taskRoutes, {
    prefix: "/api/tasks",
    tasks: createTaskService({
      tasks,
      handlers: deps.handlers,
      onBatch: (size) => deps.metrics.batchSize.observe({ batch: "task_creates" }, size),
    }),
    rateLimitPerMinute: deps.taskRateLimitPerMinute ?? 6_000,
  });
  await app.register(scheduleRoutes, {
    prefix: "/api/schedules",
    schedules: createScheduleService({
      schedules: createScheduleRepository(deps.database.db),
      handlers: deps.handlers,
    }),
  });
  const orders = createOrderService({
    orders: createOrderRepository(deps.database.db),
    validator: deps.orderValidator ?? noValidator,
    onBatch: (size) => deps.metrics.batchSize.observe({ batch: "order_creates" }, size),
  });
  await app.register(orderRoutes, { prefix: "/api/orders", orders });
  const journeys = createJourneyService({
    journeys: createJourneyRepository(deps.database.db, {
      analyticsGroup: deps.analyticsGroup ?? ANALYTICS_GROUP,
      jobQueue: deps.jobQueue?.name ?? DEFAULT_JOB_QUEUE,
    }),
  });
  await app.register(taskJourneyRoutes, { prefix: "/api/tasks", journeys });
  await app.register(orderJourneyRoutes, { prefix: "/api/orders", journeys });
  await app.register(productRoutes, { prefix: "/api/products", orders });
  await app.register(notificationRoutes, {
    prefix: "/api/notifications",
    notifications: createNotificationRepository(deps.database.db),
  });
  await app.register(eventRoutes, {
    prefix: "/api/events",
    hub,
    notifications: notificationHub,
  });
  await app.register(monitorRoutes, {
    prefix: "/api/monitor",
    hub,
    jobQueue: deps.jobQueue,
    adminEmails: deps.adminEmails ?? [],
    monitor: createMonitorService({
      tasks,
      monitor: createMonitorRepository(deps.database.db),
      handlers: deps.handlers,
      taskQueue: deps.taskQueue,
      jobQueue: deps.jobQueue,
      warn: (error, message) => app.log.warn({ err: error }, message),
    }),
  });
  await app.register(analyticsRoutes, {
    prefix: "/api/analytics",
    adminEmails: deps.adminEmails ?? [],
    analytics: createAnalyticsService({
      analytics: createAnalyticsRepository(deps.database.db),
    }),
  });
  if (deps.devMail)
    await app.register(devMailRoutes, { prefix: "/api/dev/mail", db: deps.database.db });
  registerOpsRoutes(app, { checks: deps.checks, metrics: deps.metrics });
  if (deps.webDir !== undefined)
    await app.register(webRoutes, { root: deps.webDir, logger: deps.logger });

  return app;
}

import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Logger } from "pino";
import type { Metrics } from "./metrics.ts";

/** Named readiness checks: each resolves when its dependency answers, or throws. */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

const CHECK_TIMEOUT_MS = 2_000;

async function runChecks(checks: ReadinessChecks) {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error("timed out")), CHECK_TIMEOUT_MS).unref(),
          ),
        ]);
        return [name, "ok"] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)] as const;
      }
    }),
  );
  return {
    ready: results.every(([, status]) => status === "ok"),
    checks: Object.fromEntries(results),
  };
}

// What they answer, for the OpenAPI document of a service that has one (the API's).
const Health = {
  type: "object",
  properties: { status: { type: "string", enum: ["ok"] } },
  required: ["status"],
} as const;
const Readiness = {
  type: "object",
  properties: {
    status: { type: "string", enum: ["ok", "unavailable"] },
    checks: {
      type: "object",
      additionalProperties: { type: "string" },
      description: "Each dependency: ok, or why not",
    },
  },
  required: ["status", "checks"],
} as const;
const Exposition = {
  description: "Prometheus text exposition format",
  content: { "text/plain": { schema: { type: "string" } } },
} as const;

/**
 * GET /healthz (the process is alive), GET /readyz (its dependencies answer; 503 if not),
 * GET /metrics (Prometheus). Every long-running role serves these.
 */
export function registerOpsRoutes(
  app: FastifyInstance,
  options: { checks: ReadinessChecks; metrics: Metrics },
) {
  app.get("/healthz", { schema: { response: { 200: Health } } }, async () => ({ status: "ok" }));
  app.get(
    "/readyz",
    { schema: { response: { 200: Readiness, 503: Readiness } } },
    async (_request, reply) => {
      const { ready, checks } = await runChecks(options.checks);
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ok" : "unavailable", checks });
    },
  );
  app.get("/metrics", { schema: { response: { 200: Exposition } } }, async (_request, reply) => {
    const body = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(body);
  });
}

/** A small server with only the operations routes, for roles without an HTTP API. */
export async function startOpsServer(options: {
  host: string;
  port: number;
  logger: Logger;
  checks: ReadinessChecks;
  metrics: Metrics;
}): Promise<{ app: FastifyInstance; url: string }> {
  const logger: FastifyBaseLogger = options.logger.child({ component: "ops" });
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerOpsRoutes(app, options);
  const url = await app.listen({ host: options.host, port: options.port });
  return { app, url };
}

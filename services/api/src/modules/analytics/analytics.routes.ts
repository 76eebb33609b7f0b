import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { HttpProblem } from "../../http/problem.ts";
import { AnalyticsQuery } from "./analytics.schemas.ts";
import type { AnalyticsService } from "./analytics.service.ts";

const problem = Type.Ref("Problem");
const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { sessionCookie: [] }];

export interface AnalyticsRoutesOptions {
  analytics: AnalyticsService;
  /** Lower-cased emails of the operators; anyone else gets 403. */
  adminEmails: readonly string[];
}

/**
 * /api/analytics: the platform's figures — every customer's orders and revenue, every task —
 * so operators only (TASKFLOW_ADMIN_EMAILS), like the monitor.
 */
export const analyticsRoutes: FastifyPluginAsyncTypebox<AnalyticsRoutesOptions> = async (
  app,
  { analytics, adminEmails },
) => {
  const admins = new Set(adminEmails.map((email) => email.toLowerCase()));
  app.addHook("onRequest", app.authenticate);
  // Before the query is validated: a non-operator learns only that this is not theirs.
  app.addHook("onRequest", async (request) => {
    if (!admins.has(request.user.email.toLowerCase())) {
      throw new HttpProblem(403, "analytics are for operators (TASKFLOW_ADMIN_EMAILS)");
    }
  });

  app.get(
    "/summary",
    {
      schema: {
        tags: ["analytics"],
        summary: "Orders, revenue, top products and task throughput per minute",
        description:
          "Global figures (every owner) from the analytics service's aggregates of the orders and tasks event streams, over the last `minutes` minutes (default 60, at most 1440), the current minute included. Events count in the minute of their own time (an order's created_at, a task's finished_at); the figures trail the stream by the analytics consumer's lag. Operators only.",
        security,
        querystring: AnalyticsQuery,
        response: {
          200: Type.Ref("AnalyticsSummary"),
          401: problem,
          403: problem,
          422: problem,
        },
      },
    },
    async (request) => analytics.summary(request.query),
  );
};

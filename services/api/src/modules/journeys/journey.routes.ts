import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { OrderIdParams } from "../orders/order.schemas.ts";
import { TaskIdParams } from "../tasks/task.schemas.ts";
import type { JourneyService } from "./journey.service.ts";

const problem = Type.Ref("Problem");
const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { sessionCookie: [] }];

/** GET /api/tasks/{id}/journey (registered under the /api/tasks prefix). */
export const taskJourneyRoutes: FastifyPluginAsyncTypebox<{ journeys: JourneyService }> = async (
  app,
  { journeys },
) => {
  app.addHook("onRequest", app.authenticate);
  app.get(
    "/:id/journey",
    {
      schema: {
        tags: ["tasks"],
        summary: "A task's journey through the services",
        description:
          "Its hops (api, relay, worker, analytics) with when each started, how long it took and " +
          "the trace id, read from what the pipeline records. 404 if the task is not yours.",
        security,
        params: TaskIdParams,
        response: { 200: Type.Ref("Journey"), 401: problem, 404: problem },
      },
    },
    async (request) => journeys.task(request.user.id, request.params.id),
  );
};

/** GET /api/orders/{id}/journey (registered under the /api/orders prefix). */
export const orderJourneyRoutes: FastifyPluginAsyncTypebox<{ journeys: JourneyService }> = async (
  app,
  { journeys },
) => {
  app.addHook("onRequest", app.authenticate);
  app.get(
    "/:id/journey",
    {
      schema: {
        tags: ["orders"],
        summary: "An order's journey through the services",
        description:
          "Its hops (validator, api, notifier, relay, mailer, analytics) with when each started, " +
          "how long it took and the trace id. 404 if the order is not yours.",
        security,
        params: OrderIdParams,
        response: { 200: Type.Ref("Journey"), 401: problem, 404: problem },
      },
    },
    async (request) => journeys.order(request.user.id, request.params.id),
  );
};

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { requestTraceparent } from "../../http/tracing.ts";
import { IdempotencyHeaders } from "../tasks/task.schemas.ts";
import { CreateOrderBody, ListOrdersQuery, OrderIdParams } from "./order.schemas.ts";
import type { OrderService } from "./order.service.ts";

const problem = Type.Ref("Problem");
const security: Record<string, string[]>[] = [{ bearerAuth: [] }, { sessionCookie: [] }];

/** /api/orders: place, read and list the caller's orders. */
export const orderRoutes: FastifyPluginAsyncTypebox<{ orders: OrderService }> = async (
  app,
  { orders },
) => {
  app.addHook("onRequest", app.authenticate);

  app.post(
    "",
    {
      schema: {
        tags: ["orders"],
        summary: "Place an order",
        description:
          "The validator service checks and prices it (gRPC, with a deadline); the order and its " +
          "`order.created` event are then stored in one transaction. 422 carries the validator's " +
          "field errors; 503 with Retry-After when it cannot be reached (nothing is stored).",
        security,
        headers: IdempotencyHeaders,
        body: CreateOrderBody,
        response: {
          201: Type.Ref("Order"),
          401: problem,
          409: problem,
          413: problem,
          422: problem,
          503: problem,
        },
      },
    },
    async (request, reply) => {
      const { order, replayed } = await orders.create(request.user.id, request.body, {
        idempotencyKey: request.headers["idempotency-key"],
        traceparent: requestTraceparent(request),
      });
      if (replayed) reply.header("idempotent-replayed", "true");
      return reply.code(201).header("location", `/api/orders/${order.id}`).send(order);
    },
  );

  app.get(
    "",
    {
      schema: {
        tags: ["orders"],
        summary: "List orders, newest first",
        security,
        querystring: ListOrdersQuery,
        response: { 200: Type.Ref("OrderPage"), 401: problem, 422: problem },
      },
    },
    async (request) => orders.list(request.user.id, request.query),
  );

  app.get(
    "/:id",
    {
      schema: {
        tags: ["orders"],
        summary: "One order",
        security,
        params: OrderIdParams,
        response: { 200: Type.Ref("Order"), 401: problem, 404: problem },
      },
    },
    async (request) => orders.get(request.user.id, request.params.id),
  );
};

/** /api/products: the validator's catalog. */
export const productRoutes: FastifyPluginAsyncTypebox<{ orders: OrderService }> = async (
  app,
  { orders },
) => {
  app.get(
    "",
    {
      schema: {
        tags: ["orders"],
        summary: "The product catalog",
        description: "From the validator service, which owns the catalog.",
        response: { 200: Type.Array(Type.Ref("Product")), 503: problem },
      },
    },
    async () => orders.products(),
  );
};

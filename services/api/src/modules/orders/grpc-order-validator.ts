import { FieldErrorCode } from "@taskflow/contracts";
import { endSpan, SpanKind, startSpan, type Tracer, traceparentOf } from "@taskflow/observability";
import { type ValidatorClient, ValidatorUnavailableError } from "@taskflow/validator/client";
import { type OrderValidator, type Product, ValidatorUnavailable } from "./order-validator.ts";

/** The validator service's gRPC client, in the words of the orders use case. */
export function grpcOrderValidator(
  client: ValidatorClient,
  /** Tracing on: a CLIENT span per ValidateOrder call, its context sent as metadata. */
  tracer?: Tracer | undefined,
): OrderValidator {
  /** The validator being away is the use case's ValidatorUnavailable; other errors stay. */
  async function reach<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ValidatorUnavailableError) {
        throw new ValidatorUnavailable(error.message, { cause: error });
      }
      throw error;
    }
  }

  return {
    async validate(order, { deadlineMs, traceparent }) {
      const span = tracer
        ? startSpan(tracer, "taskflow.orders.v1.OrderValidationService/ValidateOrder", {
            kind: SpanKind.CLIENT,
            parent: traceparent,
            attributes: {
              "rpc.system": "grpc",
              "rpc.service": "taskflow.orders.v1.OrderValidationService",
              "rpc.method": "ValidateOrder",
            },
          })
        : undefined;
      let answer: Awaited<ReturnType<ValidatorClient["validateOrder"]>>;
      try {
        answer = await reach(() =>
          client.validateOrder(
            {
              items: order.items.map((item) => ({ sku: item.sku, quantity: item.quantity })),
              ...(order.note === undefined ? {} : { note: order.note }),
            },
            { timeoutMs: deadlineMs, traceparent: span ? traceparentOf(span) : traceparent },
          ),
        );
      } catch (error) {
        if (span) endSpan(span, error);
        throw error;
      }
      span?.end();
      const { outcome } = answer;
      if (outcome.case === "priced") {
        const priced = outcome.value;
        return {
          ok: true,
          items: priced.lines.map((line) => ({
            sku: line.sku,
            name: line.name,
            quantity: line.quantity,
            unit_price_cents: Number(line.unitPriceCents),
            line_total_cents: Number(line.lineTotalCents),
          })),
          totalCents: Number(priced.totalCents),
          currency: priced.currency,
        };
      }
      if (outcome.case === "invalid") {
        return {
          ok: false,
          errors: outcome.value.errors.map((e) => ({
            field: e.field,
            code: FieldErrorCode[e.code] ?? String(e.code),
            message: e.message,
          })),
        };
      }
      throw new Error("the validator answered with neither a priced nor an invalid order");
    },

    async listProducts({ deadlineMs }) {
      const products: Product[] = [];
      let pageToken = "";
      do {
        const page = await reach(() => client.listProducts({ pageToken, timeoutMs: deadlineMs }));
        for (const p of page.products) {
          products.push({
            sku: p.sku,
            name: p.name,
            price_cents: Number(p.priceCents),
            currency: p.currency,
            stock: p.stock,
          });
        }
        pageToken = page.nextPageToken;
      } while (pageToken);
      return products;
    },
  };
}

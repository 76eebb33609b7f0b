import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  FieldErrorCode,
  type Order,
  type OrderValidationService,
  type ValidateOrderResponse,
  ValidateOrderResponseSchema,
  type ValidateOrdersRequest,
  ValidateOrdersResponseSchema,
} from "@taskflow/contracts";
import type { ProductRepository } from "../catalog/product.repository.ts";
import {
  type CatalogSnapshot,
  type OrderInput,
  type OrderValidation,
  skusOf,
  validateOrder,
} from "../domain/validate-order.ts";
import {
  bidiHandler,
  GrpcError,
  type HandlerEnvironment,
  readBatch,
  unaryHandler,
  write,
} from "./call-context.ts";
import type { GrpcServiceHandlers, MethodsOf } from "./service-definition.ts";

/** Streamed orders validated together: one catalog read for what has arrived, up to this many. */
const STREAM_BATCH = 64;

const NO_ORDER: OrderInput = { items: [] };

/** The answer's `outcome`, from the rules' result (money stays bigint cents). */
function outcomeOf(validation: OrderValidation): ValidateOrderResponse["outcome"] {
  return create(ValidateOrderResponseSchema, {
    outcome: validation.valid
      ? {
          case: "priced",
          value: {
            lines: validation.lines,
            totalCents: validation.totalCents,
            currency: validation.currency,
          },
        }
      : {
          case: "invalid",
          value: {
            errors: validation.errors.map((error) => ({
              field: error.field,
              code: FieldErrorCode[error.code],
              message: error.message,
            })),
          },
        },
  }).outcome;
}

async function readCatalog(
  products: ProductRepository,
  skus: Iterable<string>,
): Promise<CatalogSnapshot> {
  try {
    return await products.snapshot([...new Set(skus)]);
  } catch (error) {
    throw new GrpcError(grpc.status.UNAVAILABLE, "the product catalog cannot be read", {
      cause: error,
    });
  }
}

/** OrderValidationService: read the SKUs the order names, apply the rules, answer. */
export function validationHandlers(
  env: HandlerEnvironment,
  products: ProductRepository,
): GrpcServiceHandlers<MethodsOf<typeof OrderValidationService>> {
  const orderOf = (order: Order | undefined): OrderInput => order ?? NO_ORDER;
  return {
    validateOrder: unaryHandler(env, async (request, context) => {
      const order = orderOf(request.order);
      const catalog = await readCatalog(products, skusOf(order));
      context.checkpoint();
      return create(ValidateOrderResponseSchema, {
        outcome: outcomeOf(validateOrder(order, catalog)),
      });
    }),

    validateOrders: bidiHandler(env, async (call, context) => {
      for (;;) {
        const batch = await readBatch<ValidateOrdersRequest>(call, STREAM_BATCH);
        if (batch.length === 0) return;
        context.checkpoint();
        const catalog = await readCatalog(
          products,
          batch.flatMap((request) => skusOf(orderOf(request.order))),
        );
        for (const request of batch) {
          context.checkpoint();
          const outcome = outcomeOf(validateOrder(orderOf(request.order), catalog));
          env.stats.processed++;
          await write(
            call,
            create(ValidateOrdersResponseSchema, { correlationId: request.correlationId, outcome }),
          );
        }
      }
    }),
  };
}

import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { type CatalogService, ListProductsResponseSchema } from "@taskflow/contracts";
import type { ProductRepository } from "../catalog/product.repository.ts";
import { GrpcError, type HandlerEnvironment, unaryHandler } from "./call-context.ts";
import type { GrpcServiceHandlers, MethodsOf } from "./service-definition.ts";

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 500;

/** The page token is the last SKU of the previous page, opaque to clients. */
const encodeToken = (sku: string) => Buffer.from(sku, "utf8").toString("base64url");

function decodeToken(token: string): string | undefined {
  if (token === "") return undefined;
  const sku = Buffer.from(token, "base64url").toString("utf8");
  if (!/^[A-Z0-9][A-Z0-9-]{0,63}$/.test(sku) || encodeToken(sku) !== token) {
    throw new GrpcError(grpc.status.INVALID_ARGUMENT, "page_token is not one this service gave");
  }
  return sku;
}

/** CatalogService: the products, a page at a time in SKU order (keyset pagination). */
export function catalogHandlers(
  env: HandlerEnvironment,
  products: ProductRepository,
): GrpcServiceHandlers<MethodsOf<typeof CatalogService>> {
  return {
    listProducts: unaryHandler(env, async (request, context) => {
      if (request.pageSize < 0) {
        throw new GrpcError(grpc.status.INVALID_ARGUMENT, "page_size must not be negative");
      }
      // As AIP-158 has it: 0 is the default, above the maximum is the maximum.
      const pageSize = Math.min(request.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
      const afterSku = decodeToken(request.pageToken);
      let page: Awaited<ReturnType<ProductRepository["list"]>>;
      try {
        // One more than asked: whether there is a next page, without a second query.
        page = await products.list({ limit: pageSize + 1, afterSku });
      } catch (error) {
        throw new GrpcError(grpc.status.UNAVAILABLE, "the product catalog cannot be read", {
          cause: error,
        });
      }
      context.checkpoint();
      const shown = page.slice(0, pageSize);
      const last = shown.at(-1);
      return create(ListProductsResponseSchema, {
        products: shown,
        nextPageToken: page.length > pageSize && last ? encodeToken(last.sku) : "",
      });
    }),
  };
}

import type { MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  CatalogService,
  type ListProductsResponse,
  type OrderSchema,
  OrderValidationService,
  type ValidateOrderResponse,
} from "@taskflow/contracts";
import { createGrpcClient } from "./grpc/service-definition.ts";

/**
 * The validator could not answer in time: it is down, unreachable, overloaded, or the call's
 * deadline passed. The caller decides (the orders API answers 503 with Retry-After); nothing
 * was reserved, so trying again is safe.
 */
export class ValidatorUnavailableError extends Error {
  constructor(
    readonly code: grpc.status.UNAVAILABLE | grpc.status.DEADLINE_EXCEEDED,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ValidatorUnavailableError";
  }
}

/** The access token to send with each call (the caller's, or a service's own). */
export type TokenProvider = () => string | Promise<string>;

export interface ValidatorClient {
  /**
   * Validates and prices one order within `timeoutMs` (default: the client's). An invalid
   * order resolves (`outcome.case === "invalid"`); UNAVAILABLE and DEADLINE_EXCEEDED reject
   * with ValidatorUnavailableError; other statuses (UNAUTHENTICATED…) with grpc-js's error.
   */
  validateOrder(
    order: MessageInitShape<typeof OrderSchema>,
    options?: {
      timeoutMs?: number;
      /** W3C trace context sent as the `traceparent` metadata entry (the server's parent). */
      traceparent?: string | undefined;
    },
  ): Promise<ValidateOrderResponse>;
  /** One page of the catalog (`pageToken` from the previous page's `nextPageToken`). */
  listProducts(options?: {
    pageSize?: number;
    pageToken?: string;
    timeoutMs?: number;
  }): Promise<ListProductsResponse>;
  close(): void;
}

const isServiceError = (error: unknown): error is grpc.ServiceError =>
  error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === "number";

/**
 * How soon a lost connection is tried again. grpc-js's default backoff grows from 1 s by 1.6×
 * per failed attempt up to 120 s, and calls fail fast in between: after a 5 s outage the
 * chaos suite saw orders refused (503) for 4 s more once the validator was ready again, and a
 * longer outage stretches that towards two minutes. An attempt a second at most costs nothing.
 */
const RECONNECT: grpc.ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 250,
  "grpc.max_reconnect_backoff_ms": 1_000,
};

/**
 * A client of the validator at `url` (host:port, TASKFLOW_VALIDATOR_URL or the in-process
 * one). One HTTP/2 connection, reconnected by grpc-js as needed; calls fail fast while it is
 * down rather than waiting for it.
 */
export function createValidatorClient(
  url: string,
  tokenProvider: TokenProvider,
  options: { timeoutMs?: number } = {},
): ValidatorClient {
  const client = createGrpcClient(OrderValidationService, url, { channelOptions: RECONNECT });
  const catalog = createGrpcClient(CatalogService, url, { channelOptions: RECONNECT });
  const defaultTimeoutMs = options.timeoutMs ?? 2_000;
  /** Runs a call with the token and a deadline; the validator being away is one error type. */
  async function call<T>(
    run: (options: { metadata: grpc.Metadata; timeoutMs: number }) => Promise<T>,
    timeoutMs: number | undefined,
    traceparent?: string | undefined,
  ): Promise<T> {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${await tokenProvider()}`);
    if (traceparent) metadata.set("traceparent", traceparent);
    try {
      return await run({ metadata, timeoutMs: timeoutMs ?? defaultTimeoutMs });
    } catch (error) {
      if (
        isServiceError(error) &&
        (error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED)
      ) {
        throw new ValidatorUnavailableError(
          error.code,
          `the validator at ${url} is unavailable: ${error.details || grpc.status[error.code]}`,
          { cause: error },
        );
      }
      throw error;
    }
  }
  return {
    validateOrder: (order, callOptions) =>
      call(
        (o) => client.validateOrder({ order }, o),
        callOptions?.timeoutMs,
        callOptions?.traceparent,
      ),
    listProducts: (callOptions = {}) =>
      call(
        (o) =>
          catalog.listProducts(
            { pageSize: callOptions.pageSize ?? 0, pageToken: callOptions.pageToken ?? "" },
            o,
          ),
        callOptions.timeoutMs,
      ),
    close: () => {
      client.close();
      catalog.close();
    },
  };
}

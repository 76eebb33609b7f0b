import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import type { TokenService } from "@taskflow/auth";
import {
  CatalogService,
  OrderValidationService,
  PROTO_DIR,
  PROTO_FILES,
} from "@taskflow/contracts";
import type { Logger, Tracer } from "@taskflow/observability";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type { ProductRepository } from "./catalog/product.repository.ts";
import type { CallStats, HandlerEnvironment } from "./grpc/call-context.ts";
import { catalogHandlers } from "./grpc/catalog.handlers.ts";
import { grpcServiceDefinition } from "./grpc/service-definition.ts";
import { validationHandlers } from "./grpc/validation.handlers.ts";

export interface ValidatorServerOptions {
  products: ProductRepository;
  tokens: TokenService;
  logger: Logger;
  /** Resolves while what the service needs (the database) answers; rejects otherwise. */
  ready?: () => Promise<unknown>;
  /** How often `ready` is asked; its answer sets the health status. Default 5 s. */
  readinessIntervalMs?: number;
  /** Tracing on: a SERVER span per call (OrderValidationService, CatalogService). */
  tracer?: Tracer | undefined;
}

export interface ValidatorServer {
  /** For the heartbeat: calls in flight, orders answered, calls failed; and calls abandoned. */
  readonly stats: Readonly<CallStats>;
  /** Binds host:port (port 0: any free port) and starts serving; `url` is host:port for clients. */
  listen(host: string, port: number): Promise<{ port: number; url: string }>;
  /**
   * NOT_SERVING at once, then waits up to `graceMs` for the calls in flight (new ones are
   * refused), then cancels what is left.
   */
  shutdown(graceMs: number): Promise<void>;
}

/** The services health reports on: "" (the whole server) and each of ours. */
const HEALTH_SERVICES = ["", OrderValidationService.typeName, CatalogService.typeName];

/** An order message is a few kilobytes at most; 1 MiB, as the HTTP API's bodies. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * The validator's gRPC server: OrderValidationService and CatalogService (authenticated),
 * grpc.health.v1.Health and server reflection (open). Built, not listening: see `listen`.
 */
export function createValidatorServer(options: ValidatorServerOptions): ValidatorServer {
  const logger = options.logger;
  const stats: CallStats = { inFlight: 0, processed: 0, failed: 0, abandoned: 0 };
  const env: HandlerEnvironment = { tokens: options.tokens, logger, stats, tracer: options.tracer };
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  });
  server.addService(
    grpcServiceDefinition(OrderValidationService),
    validationHandlers(env, options.products),
  );
  server.addService(grpcServiceDefinition(CatalogService), catalogHandlers(env, options.products));

  const health = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICES.map((service) => [service, "NOT_SERVING"] as const)),
  );
  health.addToServer(server);
  const setHealth = (status: "SERVING" | "NOT_SERVING") => {
    for (const service of HEALTH_SERVICES) health.setStatus(service, status);
  };

  // Reflection describes the .proto files as written (comments and all), and health's.
  const reflected = protoLoader.loadSync([...PROTO_FILES, healthProtoPath], {
    includeDirs: [PROTO_DIR],
  });
  new ReflectionService(reflected).addToServer(server);

  let shuttingDown = false;
  let poller: NodeJS.Timeout | undefined;
  let serving = false;
  const checkReadiness = async () => {
    let ready = true;
    try {
      await options.ready?.();
    } catch (error) {
      ready = false;
      if (serving) logger.warn({ err: error }, "validator not ready: health NOT_SERVING");
    }
    if (shuttingDown) return;
    if (ready && !serving) logger.info("validator ready: health SERVING");
    serving = ready;
    setHealth(ready ? "SERVING" : "NOT_SERVING");
  };

  return {
    stats,
    async listen(host, port) {
      const address = host.includes(":") ? `[${host}]` : host;
      const bound = await new Promise<number>((resolve, reject) =>
        server.bindAsync(
          `${address}:${port}`,
          grpc.ServerCredentials.createInsecure(),
          (error, boundPort) => (error ? reject(error) : resolve(boundPort)),
        ),
      );
      await checkReadiness();
      poller = setInterval(() => void checkReadiness(), options.readinessIntervalMs ?? 5_000);
      poller.unref();
      return { port: bound, url: `${address}:${bound}` };
    },
    async shutdown(graceMs) {
      shuttingDown = true;
      clearInterval(poller);
      setHealth("NOT_SERVING");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn(
            { inFlight: stats.inFlight, graceMs },
            "validator calls outlived the shutdown grace: cancelling them",
          );
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

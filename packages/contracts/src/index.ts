import { createRequire } from "node:module";
import path from "node:path";

/**
 * TaskFlow's gRPC contracts: the .proto files in ./proto and the TypeScript protoc-gen-es
 * generates from them into ./src/gen (`npm run generate:contracts`; never edited by hand).
 * Messages are plain objects typed by the generated `type`s; their `*Schema` descriptors and
 * the service descriptors drive serialization (toBinary/fromBinary) and the RPC adapters.
 */
export * from "./gen/taskflow/orders/v1/catalog_service_pb.ts";
export * from "./gen/taskflow/orders/v1/order_pb.ts";
export * from "./gen/taskflow/orders/v1/validation_service_pb.ts";

// Found through the package rather than this file's URL: in the bundle
// (packages/cli/dist/taskflow.mjs) this module's URL is the bundle's.
/** The root of the .proto sources (their imports are relative to it). */
export const PROTO_DIR = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@taskflow/contracts/package.json")),
  "proto",
);

/** Every .proto file of the contracts, relative to PROTO_DIR. */
export const PROTO_FILES = [
  "taskflow/orders/v1/order.proto",
  "taskflow/orders/v1/validation_service.proto",
  "taskflow/orders/v1/catalog_service.proto",
] as const;

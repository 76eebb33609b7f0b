export * from "./catalog/product.repository.ts";
export * from "./client.ts";
export * from "./domain/validate-order.ts";
export { GrpcError } from "./grpc/call-context.ts";
export * from "./grpc/service-definition.ts";
export * from "./server.ts";

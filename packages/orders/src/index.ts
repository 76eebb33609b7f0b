export * from "./order.repository.ts";
export * from "./order.ts";

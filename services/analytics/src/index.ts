export * from "./analytics.repository.ts";
export * from "./analytics-consumer.ts";
export * from "./analytics-events.ts";
export * from "./analytics-rebuild.ts";
export * from "./duration-histogram.ts";

export * from "./failpoint.ts";
export * from "./logger.ts";
export * from "./metrics.ts";
export * from "./ops.ts";
export * from "./shutdown.ts";
export * from "./sleeper.ts";
export * from "./tracing.ts";

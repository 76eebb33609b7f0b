export * from "./history-pruner.ts";
export * from "./scheduler.ts";

export * from "./evaluator.ts";
export * from "./gauges.ts";
export * from "./rules.ts";
export * from "./webhook.ts";

export * from "./checker.ts";
export * from "./engines.ts";
export * from "./fault-proxy.ts";
export * from "./ledger.ts";

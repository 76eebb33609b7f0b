export * from "./main.ts";
export * from "./roles.ts";
export * from "./runtime.ts";

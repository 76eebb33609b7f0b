export * from "./notifier.ts";

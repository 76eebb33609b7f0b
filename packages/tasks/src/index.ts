export * from "./history-retention.ts";
export * from "./schedule.repository.ts";
export * from "./schedule.ts";
export * from "./task.repository.ts";
export * from "./task.ts";
export * from "./task-transitions.ts";

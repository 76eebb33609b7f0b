export * from "./create-task-queue.ts";
export * from "./embedded/embedded.task-queue.ts";
export * from "./rabbitmq/rabbitmq.task-queue.ts";
export * from "./task-queue.ts";

export * from "./bullmq.job-queue.ts";
export * from "./redis.event-stream.ts";

import { defineConfig } from "vitest/config";

/**
 * The chaos suite (`npm run test:chaos`), apart from `npm test`: it starts its own
 * PostgreSQL, RabbitMQ and Redis and crashes them. One file at a time, one test at a time.
 */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.chaos.ts"],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ["default"],
  },
});

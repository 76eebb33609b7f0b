import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * `npm run test:compose`: compose.yaml up with podman, end to end (deploy/compose/e2e). Minutes
 * long, so apart from `npm test` (whose config includes deploy/*\/test, not e2e/).
 */
export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["deploy/compose/e2e/**/*.test.ts"],
    // One stack at a time; the steps of the story run in order.
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 5 * 60_000,
    hookTimeout: 60 * 60_000,
    reporters: ["default"],
  },
});

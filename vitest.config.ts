import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

const webSources = "services/web/src/**/*.test.{ts,tsx}";

export default defineConfig({
  test: {
    // Ceilings, not waits: beside an end-to-end file that starts seven processes and a
    // browser, PGlite's start or a role's can take a minute on two cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two cores: integration and end-to-end files start engines' clients and processes.
    maxWorkers: 2,
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          // Node: unit, integration and end-to-end tests of the packages and services.
          name: "unit",
          include: [
            "packages/*/{src,test}/**/*.test.ts",
            "services/*/{src,test}/**/*.test.ts",
            "deploy/*/test/**/*.test.ts",
            // Cross-cutting suites (security, fuzzing) that drive the whole system.
            "test/*/**/*.test.ts",
          ],
          exclude: ["**/node_modules/**", webSources],
        },
      },
      {
        extends: true,
        plugins: [react()],
        test: {
          // The web app's components, in a simulated DOM; the network is stubbed per test.
          name: "web",
          include: [webSources],
          environment: "jsdom",
          setupFiles: ["services/web/src/test-support/setup.ts"],
        },
      },
    ],
  },
});

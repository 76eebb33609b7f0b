import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { buildBundle } from "../scripts/build.ts";

/**
 * The bundle (`npm run build`) is what containers and the benchmark run: it must carry the
 * workspace packages and the migrations, and load PGlite on its own when embedded.
 */
const run = promisify(execFile);
const dataDir = mkdtempSync(path.join(tmpdir(), "taskflow-bundle-e2e-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("the bundled taskflow program", () => {
  it("when built and run with plain node, then it migrates an embedded database and reports it applied", async () => {
    const bundle = await buildBundle();
    const env = { PATH: process.env.PATH, TASKFLOW_DATA_DIR: dataDir, TASKFLOW_LOG_LEVEL: "warn" };
    const up = await run(process.execPath, [bundle, "migrate", "up"], { env, timeout: 60_000 });
    expect(up.stdout).toMatch(/^applied 2026_11_23_090000_users_and_tasks$/m);
    const status = await run(process.execPath, [bundle, "migrate", "status"], {
      env,
      timeout: 60_000,
    });
    expect(status.stdout).toMatch(/2026_11_23_090000_users_and_tasks/);
    expect(status.stdout).not.toMatch(/pending/);
  }, 90_000);
});

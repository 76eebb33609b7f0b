import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createTokenService } from "@taskflow/auth";
import { OrderValidationService } from "@taskflow/contracts";
import { createDatabase, migrateUp } from "@taskflow/db";
import {
  createTestDatabase,
  engineAvailable,
  freePort,
  repoRoot,
  startRole,
  type TestDatabase,
  taskflowBin,
  waitFor,
} from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createGrpcClient } from "../src/index.ts";
import { ADA, check, healthClient } from "./validator-fixture.ts";

const JWT_SECRET = "an-e2e-secret-that-is-long-enough-for-hs256";
const tokens = createTokenService({ secret: JWT_SECRET, ttlSeconds: 60 });

async function validateOne(url: string, metadata = new grpc.Metadata()) {
  metadata.set("authorization", `Bearer ${(await tokens.issue(ADA)).access_token}`);
  const client = createGrpcClient(OrderValidationService, url);
  try {
    return await client.validateOrder(
      { order: { items: [{ sku: "DS-400", quantity: 2 }] } },
      { metadata, timeoutMs: 5_000 },
    );
  } finally {
    client.close();
  }
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The child's environment: ours without TASKFLOW_* (nothing leaks in), plus `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith("TASKFLOW_") && key !== "NODE_ENV",
    ),
  );
  return { ...base, ...env };
}

describe("taskflow validator", () => {
  it("serves gRPC on TASKFLOW_PORT and /readyz /metrics on TASKFLOW_OPS_PORT, and stops cleanly on SIGTERM", async () => {
    // PostgreSQL when it runs here, else a PGlite folder (both migrated: the role refuses otherwise).
    let database: Record<string, string>;
    if (await engineAvailable("postgres")) {
      const testDatabase: TestDatabase = await createTestDatabase("taskflow_validator_e2e");
      cleanups.push(() => testDatabase.drop());
      const handle = await createDatabase({ url: testDatabase.url, dataDir: "unused" });
      await migrateUp(handle.db);
      await handle.close();
      database = { TASKFLOW_DATABASE_URL: testDatabase.url };
    } else {
      const dataDir = mkdtempSync(path.join(tmpdir(), "taskflow-validator-e2e-"));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const handle = await createDatabase({ dataDir });
      await migrateUp(handle.db);
      await handle.close();
      database = { TASKFLOW_DATA_DIR: dataDir };
    }
    const [port, opsPort] = [await freePort(), await freePort()];
    const child: ChildProcess = spawn(process.execPath, [taskflowBin, "validator"], {
      cwd: repoRoot,
      env: childEnv({
        ...database,
        TASKFLOW_HOST: "127.0.0.1",
        TASKFLOW_PORT: String(port),
        TASKFLOW_OPS_PORT: String(opsPort),
        TASKFLOW_JWT_SECRET: JWT_SECRET,
        TASKFLOW_LOG_LEVEL: "warn",
      }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    cleanups.push(() => child.exitCode === null && child.kill("SIGKILL"));

    const url = `127.0.0.1:${port}`;
    const health = healthClient(url);
    cleanups.push(() => health.close());
    await waitFor(async () => (await check(health, "")) === "SERVING", {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: `the validator to serve (its output: ${output})`,
    });

    const response = await validateOne(url);
    expect(response.outcome.case === "priced" && response.outcome.value.totalCents).toBe(89_800n);
    const ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { database: "ok" } });
    expect((await fetch(`http://127.0.0.1:${opsPort}/metrics`)).status).toBe(200);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 120_000);
});

describe("taskflow start", () => {
  it("runs the validator in-process, reached over gRPC on a loopback port of its own", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "taskflow-start-validator-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const start = await startRole(
      "start",
      { TASKFLOW_DATA_DIR: dataDir, TASKFLOW_JWT_SECRET: JWT_SECRET, TASKFLOW_LOG_LEVEL: "info" },
      { readyTimeoutMs: 90_000 },
    );
    cleanups.push(() => start.stop());
    const line = start
      .output()
      .split("\n")
      .find((l) => l.includes("validator listening"));
    const url = (JSON.parse(line ?? "{}") as { url?: string }).url ?? "";
    expect(url).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(url).not.toBe(`127.0.0.1:${start.port}`);
    const response = await validateOne(url);
    expect(response.outcome.case).toBe("priced");
    expect((await start.stop()).code).toBe(0);
  }, 120_000);
});

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot } from "@taskflow/testing";
import { type ChaosPostgres, startPostgres } from "@taskflow/testing/chaos";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const fixture = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "fixtures/query-through-restart.ts",
);
const postgres15 = existsSync("/usr/lib/postgresql/15/bin/postgres");

/**
 * A PostgreSQL of the test's own, stopped with `pg_ctl stop -m immediate` while a process's
 * pooled connections are running queries: the backends quit without an error message, so pg
 * sees each connection end under a checked-out client and emits 'error' on it.
 */
describe.skipIf(!postgres15)("PostgreSQL stopped under running queries", () => {
  let engine: ChaosPostgres;

  beforeAll(async () => {
    engine = await startPostgres();
    await engine.start();
  }, 90_000);

  afterAll(async () => {
    await engine?.destroy();
  });

  it("the pool fails those queries, the process survives, and it answers again once PostgreSQL is back", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, engine.url], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));

    try {
      // The four sleeps are on the server before it stops.
      const watcher = new pg.Client({ connectionString: engine.url });
      await watcher.connect();
      for (let i = 0; ; i++) {
        const { rows } = await watcher.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'",
        );
        if (rows[0]?.n === 4) break;
        if (i > 300 || child.exitCode !== null)
          throw new Error(`the queries never ran:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await watcher.end();

      await engine.stopImmediate();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await engine.start();

      expect(await exited, output).toBe(0);
      expect(output).toContain("queries: failed,failed,failed,failed");
      expect(output).toContain("recovered");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 90_000);
});

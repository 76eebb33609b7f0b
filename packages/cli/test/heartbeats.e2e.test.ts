import { randomBytes } from "node:crypto";
import {
  createTestDatabase,
  engineAvailable,
  killAllRoles,
  startRole,
  testPool,
  uniqueName,
  waitFor,
} from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";

const postgres = await engineAvailable("postgres");

interface Row {
  role: string;
  pid: number;
  concurrency: number;
  in_flight: number;
  processed: number;
  failed: number;
  stopped: boolean;
}

describe.skipIf(!postgres)("heartbeats of `taskflow start`", () => {
  afterAll(() => killAllRoles(), 30_000);

  it("when every role runs in one process, then each beats under its own role, and a SIGTERM marks each stopped after it drained", async () => {
    const database = await createTestDatabase("taskflow_heartbeats");
    const sql = testPool(database.url, 1);
    try {
      // PostgreSQL (to read the rows while it runs), embedded queues.
      const started = await startRole("start", {
        TASKFLOW_DATABASE_URL: database.url,
        TASKFLOW_TASK_QUEUE: uniqueName("e2e.heartbeats"),
        TASKFLOW_JWT_SECRET: randomBytes(32).toString("base64url"),
        TASKFLOW_LOG_LEVEL: "warn",
      });
      const rows = async () =>
        (
          await sql.query<Row>(
            `SELECT role, pid, concurrency, in_flight, processed::int, failed::int,
                    stopped_at IS NOT NULL AS stopped
             FROM process_heartbeats WHERE pid = $1 ORDER BY role`,
            [started.pid],
          )
        ).rows;
      const roles = [
        "alerts",
        "analytics",
        "api",
        "mailer",
        "notifier",
        "relay",
        "scheduler",
        "validator",
        "worker",
      ];
      expect((await rows()).map((r) => [r.role, r.stopped])).toEqual(
        roles.map((role) => [role, false]),
      );
      // The api counts its requests: the readiness probes so far, and these.
      await fetch(`${started.url}/healthz`).then((r) => r.arrayBuffer());
      await fetch(`${started.url}/no-such-route`).then((r) => r.arrayBuffer());
      const api = await waitFor(
        async () => {
          const row = (await rows()).find((r) => r.role === "api");
          return row && row.processed >= 2 ? row : undefined;
        },
        { timeoutMs: 15_000, what: "the api's next beat" },
      );
      expect(api).toMatchObject({ concurrency: 0, failed: 0 });
      expect((await rows()).find((r) => r.role === "scheduler")?.concurrency).toBe(1);

      expect(await started.stop("SIGTERM"), started.output()).toEqual({ code: 0, signal: null });
      expect((await rows()).map((r) => [r.role, r.stopped])).toEqual(
        roles.map((role) => [role, true]),
      );
    } finally {
      await sql.end();
      await database.drop();
    }
  }, 90_000);
});

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createDatabase, type DatabaseHandle } from "./database.ts";
import { createHeartbeat, listHeartbeats } from "./heartbeats.ts";
import { migrateUp } from "./migrator.ts";

let database: DatabaseHandle;
beforeAll(async () => {
  database = await createDatabase({ dataDir: "memory://" });
  await migrateUp(database.db);
});
afterAll(async () => {
  await database?.close();
});
afterEach(async () => {
  vi.useRealTimers();
  await database.db.deleteFrom("process_heartbeats").execute();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("process heartbeats", () => {
  it("writes the process's identity and counters at start, and again at each beat", async () => {
    const stats = { inFlight: 2, processed: 10, failed: 1 };
    const heartbeat = createHeartbeat({
      db: database.db,
      role: "worker",
      concurrency: 8,
      stats: () => stats,
      intervalMs: 40,
    });
    await heartbeat.start();
    const [first] = await listHeartbeats(database.db);
    expect(first).toMatchObject({
      id: heartbeat.id,
      role: "worker",
      pid: process.pid,
      concurrency: 8,
      interval_ms: 40,
      in_flight: 2,
      processed: 10,
      failed: 1,
      status: "online",
      stopped_at: null,
    });
    stats.processed = 11;
    await vi.waitFor(async () => {
      expect((await listHeartbeats(database.db))[0]?.processed).toBe(11);
    });
    await heartbeat.stop();
    const [stopped] = await listHeartbeats(database.db);
    expect(stopped?.status).toBe("stopped");
    expect(stopped?.stopped_at).toBeInstanceOf(Date);
  });

  it("shows a process offline once it missed three beats, and online when it beats again", async () => {
    // Only setInterval is faked: the process "hangs" (no beats) while real time passes.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const heartbeat = createHeartbeat({
      db: database.db,
      role: "mailer",
      concurrency: 1,
      stats: () => ({ inFlight: 0, processed: 0, failed: 0 }),
      intervalMs: 50,
    });
    await heartbeat.start();
    expect((await listHeartbeats(database.db))[0]?.status).toBe("online");
    await sleep(250);
    const [silent] = await listHeartbeats(database.db);
    expect(silent?.status).toBe("offline");
    expect(silent?.silent_seconds).toBeGreaterThanOrEqual(0.15);
    vi.advanceTimersByTime(50);
    await vi.waitFor(async () => {
      expect((await listHeartbeats(database.db))[0]?.status).toBe("online");
    });
    await heartbeat.stop();
  });

  it("lists online processes first, and prunes rows silent for a day when a process starts", async () => {
    await database.db
      .insertInto("process_heartbeats")
      .values({
        id: "worker-ancient",
        role: "worker",
        host: "gone",
        pid: 1,
        interval_ms: 5_000,
        concurrency: 1,
        beat_at: new Date(Date.now() - 2 * 86_400_000),
      })
      .execute();
    await database.db
      .insertInto("process_heartbeats")
      .values({
        id: "api-old",
        role: "api",
        host: "gone",
        pid: 2,
        interval_ms: 5_000,
        concurrency: 1,
        beat_at: new Date(Date.now() - 60_000),
      })
      .execute();
    const heartbeat = createHeartbeat({
      db: database.db,
      role: "worker",
      concurrency: 4,
      stats: () => ({ inFlight: 0, processed: 0, failed: 0 }),
    });
    await heartbeat.start();
    const listed = await listHeartbeats(database.db);
    expect(listed.map((h) => [h.id, h.status])).toEqual([
      [heartbeat.id, "online"],
      ["api-old", "offline"],
    ]);
    await heartbeat.stop();
  });
});

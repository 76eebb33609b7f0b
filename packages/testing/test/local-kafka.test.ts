import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  engineAvailable,
  freePort,
  localKafkaUp,
  metadataBrokers,
  startLocalKafka,
  stopLocalKafka,
} from "../src/index.ts";

// Runs where the shared broker runs (its jars are cached, Java is there): a second JVM for a minute.
const available = await engineAvailable("kafka");

describe("the local Kafka broker (npm run kafka:start)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dataDir of dirs) {
      await stopLocalKafka({ dataDir, signal: "SIGKILL" }).catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it.skipIf(!available)(
    "starts once, answers metadata, survives a SIGKILL on its log directory, and stops",
    async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), "taskflow-kafka-"));
      dirs.push(dataDir);
      const port = await freePort();
      let controllerPort = await freePort();
      while (controllerPort === port) controllerPort = await freePort();
      const options = { dataDir, port, controllerPort, heap: "256m" };
      const clusterId = async () =>
        /cluster\.id=(\S+)/.exec(
          await readFile(path.join(dataDir, "data/meta.properties"), "utf8"),
        )?.[1];

      const started = await startLocalKafka(options);
      expect(started).toMatchObject({
        bootstrap: `127.0.0.1:${options.port}`,
        alreadyRunning: false,
      });
      expect(await metadataBrokers("127.0.0.1", options.port)).toEqual([
        { nodeId: 1, host: "127.0.0.1", port: options.port },
      ]);
      const formatted = await clusterId();
      expect(formatted).toBeTruthy();

      // Idempotent: a second start finds it running.
      expect(await startLocalKafka(options)).toMatchObject({
        alreadyRunning: true,
        pid: started.pid,
      });

      // A crash, then a restart on the same log directory (not formatted again).
      expect(await stopLocalKafka({ ...options, signal: "SIGKILL" })).toBe(true);
      expect(await localKafkaUp(options)).toBe(false);
      const restarted = await startLocalKafka(options);
      expect(restarted.alreadyRunning).toBe(false);
      expect(await clusterId()).toBe(formatted);

      expect(await stopLocalKafka(options)).toBe(true);
      expect(await localKafkaUp(options)).toBe(false);
      expect(await stopLocalKafka(options)).toBe(false);
    },
    240_000,
  );
});

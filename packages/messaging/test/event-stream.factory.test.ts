import type { DatabaseHandle } from "@taskflow/db";
import { describe, expect, it } from "vitest";
import { createEventStream } from "../src/index.ts";

// Never touched: the factory only chooses (the embedded stream uses it on its first call).
const database = {} as DatabaseHandle;

describe("createEventStream", () => {
  it("chooses the engine by the scheme of TASKFLOW_STREAM_URL, embedded when it is unset", async () => {
    const cases = [
      [undefined, "embedded"],
      ["kafka://127.0.0.1:9092,127.0.0.1:9093", "kafka"],
      ["redis://127.0.0.1:6379", "redis"],
      ["rediss://127.0.0.1:6380", "redis"],
      ["nats://127.0.0.1:4222", "nats"],
    ] as const;
    for (const [url, engine] of cases) {
      const stream = createEventStream(url, { database, onError: () => {} });
      expect(stream.engine).toBe(engine);
      await stream.close();
    }
  });

  it("refuses a scheme it has no adapter for", () => {
    expect(() => createEventStream("amqp://127.0.0.1", { database })).toThrow(/unsupported scheme/);
  });
});

import { createHash } from "node:crypto";
import { Type } from "@sinclair/typebox";
import { defineTaskHandler } from "./task-handler.ts";

const ROUNDS_PER_SLICE = 5_000;

export const hashHandler = defineTaskHandler({
  type: "hash",
  description: "CPU work: SHA-256 applied `rounds` times to `input` (default the task id).",
  payload: Type.Object(
    {
      rounds: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
      input: Type.Optional(Type.String({ maxLength: 10_000 })),
    },
    { additionalProperties: false },
  ),
  async run({ rounds, input }, { taskId, signal }) {
    let digest = Buffer.from(input ?? taskId);
    for (let done = 0; done < rounds; ) {
      const slice = Math.min(ROUNDS_PER_SLICE, rounds - done);
      for (let i = 0; i < slice; i++) digest = createHash("sha256").update(digest).digest();
      done += slice;
      // Yield between slices so heartbeats, acks and other tasks keep flowing.
      if (done < rounds) {
        signal.throwIfAborted();
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return { rounds, digest: digest.toString("hex") };
  },
});

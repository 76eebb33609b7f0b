import { Type } from "@sinclair/typebox";
import { defineTaskHandler } from "./task-handler.ts";

export const failHandler = defineTaskHandler({
  type: "fail",
  description: "Fails its first `times` attempts, then succeeds: shows retries and dead letters.",
  payload: Type.Object(
    { times: Type.Integer({ minimum: 0, maximum: 100 }) },
    { additionalProperties: false },
  ),
  run({ times }, { attempt }) {
    if (attempt <= times)
      throw new Error(`failing on purpose (attempt ${attempt} of the first ${times})`);
    return { failed_attempts: times };
  },
});

import { Type } from "@sinclair/typebox";
import { defineTaskHandler } from "./task-handler.ts";

export const echoHandler = defineTaskHandler({
  type: "echo",
  description: "Succeeds with its payload as the result.",
  payload: Type.Unknown(),
  run(payload) {
    return payload;
  },
});

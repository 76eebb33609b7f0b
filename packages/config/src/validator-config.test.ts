import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./index.ts";

describe("the validator's variables", () => {
  it("leave the validator in-process and the ops port off when unset", () => {
    const config = loadConfig({});
    expect(config.validator.url).toBeUndefined();
    expect(config.opsPort).toBeUndefined();
  });

  it.each(["validator:50051", "10.0.0.7:50051", "[::1]:50051", "Validator.internal:1"])(
    "take %s as TASKFLOW_VALIDATOR_URL",
    (url) => {
      expect(loadConfig({ TASKFLOW_VALIDATOR_URL: url }).validator.url).toBe(url);
    },
  );

  it.each([
    "validator",
    "validator:0",
    "validator:70000",
    ":50051",
    "http://validator:50051",
    "user@validator:50051",
    "validator:50051/path",
  ])("refuse %s as TASKFLOW_VALIDATOR_URL at start-up", (url) => {
    expect(() => loadConfig({ TASKFLOW_VALIDATOR_URL: url })).toThrow(ConfigError);
    expect(() => loadConfig({ TASKFLOW_VALIDATOR_URL: url })).toThrow(/TASKFLOW_VALIDATOR_URL/);
  });

  it("reads TASKFLOW_OPS_PORT, and refuses one out of range", () => {
    expect(loadConfig({ TASKFLOW_OPS_PORT: "9090" }).opsPort).toBe(9090);
    expect(() => loadConfig({ TASKFLOW_OPS_PORT: "65536" })).toThrow(/TASKFLOW_OPS_PORT/);
  });
});

import { describe, expect, it } from "vitest";
import { InvalidSchedule, nextTick } from "./schedule.ts";

describe("nextTick", () => {
  it("reads the expression in the schedule's time zone, across a DST change", () => {
    // 09:00 on weekdays in Paris: UTC+1 in November, UTC+2 after the last Sunday of March.
    const weekday = "0 9 * * 1-5";
    expect(nextTick(weekday, "Europe/Paris", new Date("2026-11-23T10:00:00Z")).toISOString()).toBe(
      "2026-11-24T08:00:00.000Z",
    );
    expect(nextTick(weekday, "Europe/Paris", new Date("2027-03-29T06:00:00Z")).toISOString()).toBe(
      "2027-03-29T07:00:00.000Z",
    );
    expect(nextTick(weekday, "UTC", new Date("2026-11-23T10:00:00Z")).toISOString()).toBe(
      "2026-11-24T09:00:00.000Z",
    );
  });

  it("takes six fields as seconds first, and is strictly after the given time", () => {
    const at = new Date("2026-11-23T10:00:05Z");
    expect(nextTick("*/10 * * * * *", "UTC", at).toISOString()).toBe("2026-11-23T10:00:10.000Z");
    expect(nextTick("*/5 * * * * *", "UTC", at).toISOString()).toBe("2026-11-23T10:00:10.000Z");
  });

  it("refuses a bad expression, an unknown zone and one that never fires, saying which", () => {
    const at = new Date("2026-11-23T10:00:00Z");
    const fieldOf = (cron: string, zone: string) => {
      try {
        nextTick(cron, zone, at);
      } catch (error) {
        return error instanceof InvalidSchedule ? error.field : "other";
      }
      return "none";
    };
    expect(fieldOf("61 * * * *", "UTC")).toBe("cron");
    expect(fieldOf("every day", "UTC")).toBe("cron");
    expect(fieldOf("* * * * * * * *", "UTC")).toBe("cron");
    expect(fieldOf("* * * * *", "Mars/Olympus")).toBe("timezone");
    expect(fieldOf("0 0 30 2 *", "UTC")).toBe("cron");
  });
});

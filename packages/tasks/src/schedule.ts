import { Cron } from "croner";

/** A cron expression that cannot be used, with the reason (for a 422). */
export class InvalidSchedule extends Error {
  constructor(
    readonly field: "cron" | "timezone",
    message: string,
  ) {
    super(message);
    this.name = "InvalidSchedule";
  }
}

/**
 * The tick after `after` of a cron expression (5 fields, or 6 with seconds first) read in an
 * IANA time zone, so "0 9 * * 1-5" in Europe/Paris stays 09:00 in Paris across DST changes.
 * Throws InvalidSchedule for an expression or zone that cannot be used, or one that never fires.
 */
export function nextTick(cron: string, timezone: string, after: Date): Date {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
  } catch {
    throw new InvalidSchedule("timezone", `unknown time zone "${timezone}"`);
  }
  let schedule: Cron;
  try {
    schedule = new Cron(cron, { timezone, paused: true, mode: "5-or-6-parts" });
  } catch (error) {
    throw new InvalidSchedule("cron", error instanceof Error ? error.message : String(error));
  }
  const next = schedule.nextRun(after);
  if (!next) throw new InvalidSchedule("cron", "this expression never fires");
  return next;
}

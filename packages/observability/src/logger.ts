import pino, { type Logger } from "pino";

export type { Logger } from "pino";

/** JSON logs, one line per event, with the process role on every line. */
export function createLogger(options: { level: string; service: string }): Logger {
  return pino({
    level: options.level,
    base: { service: options.service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "*.password"],
      remove: true,
    },
  });
}

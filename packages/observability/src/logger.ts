import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";

export type { Logger } from "pino";

/** JSON logs, one line per event, with the process role on every line. */
export function createLogger(options: {
  level: string;
  service: string;
  /** Where the JSON lines go (default: stdout). */
  destination?: DestinationStream;
}): Logger {
  const settings: LoggerOptions = {
    level: options.level,
    base: { service: options.service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "*.password"],
      remove: true,
    },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

import type { Logger } from "pino";

/**
 * Runs `stop` once on SIGTERM or SIGINT and exits 0 when it finishes, or 1 if it throws or
 * outlasts `timeoutMs`. A second signal exits at once.
 */
export function onShutdownSignal(
  logger: Logger,
  timeoutMs: number,
  stop: (signal: string) => Promise<void>,
): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down: draining in-flight work");
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, "shutdown timed out");
      process.exit(1);
    }, timeoutMs + 1_000);
    timer.unref();
    stop(signal).then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

import { localKafkaUp, startLocalKafka, stopLocalKafka } from "./local-broker.ts";

/**
 * `npm run kafka:start | kafka:stop | kafka:status` — a local Kafka broker (see local-broker.ts).
 * Start prints the bootstrap address on stdout (progress goes to stderr), so
 * `KAFKA_BROKERS=$(npm run -s kafka:start)` works. Options: `--port N` (or TASKFLOW_KAFKA_PORT,
 * default 9092), `--dir D` (TASKFLOW_KAFKA_DIR, default ./.taskflow/kafka), `--heap 512m`
 * (TASKFLOW_KAFKA_HEAP); TASKFLOW_KAFKA_LIBS moves the jar cache.
 */

const [command = "start", ...args] = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = flag("port") ?? process.env.TASKFLOW_KAFKA_PORT;
const dataDir = flag("dir") ?? process.env.TASKFLOW_KAFKA_DIR;
const heap = flag("heap") ?? process.env.TASKFLOW_KAFKA_HEAP;
const libsDir = process.env.TASKFLOW_KAFKA_LIBS;
const options = {
  ...(port ? { port: Number(port) } : {}),
  ...(dataDir ? { dataDir } : {}),
  ...(heap ? { heap } : {}),
  ...(libsDir ? { libsDir } : {}),
  log: (message: string) => console.error(`kafka: ${message}`),
};

try {
  switch (command) {
    case "start": {
      const began = performance.now();
      const kafka = await startLocalKafka(options);
      const seconds = ((performance.now() - began) / 1000).toFixed(1);
      console.error(
        kafka.alreadyRunning
          ? `kafka: already running at ${kafka.bootstrap}${kafka.pid ? ` (pid ${kafka.pid})` : ""}`
          : `kafka: up at ${kafka.bootstrap} in ${seconds} s (pid ${kafka.pid}; output ${kafka.logFile})`,
      );
      console.log(kafka.bootstrap);
      break;
    }
    case "stop":
      console.error((await stopLocalKafka(options)) ? "kafka: stopped" : "kafka: was not running");
      break;
    case "status": {
      const up = await localKafkaUp(options);
      console.error(`kafka: ${up ? "answers" : "does not answer"} on port ${options.port ?? 9092}`);
      process.exitCode = up ? 0 : 1;
      break;
    }
    default:
      console.error(
        "usage: local-broker.cli.ts start|stop|status [--port N] [--dir D] [--heap 512m]",
      );
      process.exitCode = 2;
  }
} catch (error) {
  console.error(`kafka: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}

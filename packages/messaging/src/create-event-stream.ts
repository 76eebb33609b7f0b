import type { DatabaseHandle } from "@taskflow/db";
import { createEmbeddedEventStream } from "./embedded/embedded.event-stream.ts";
import type { EventStream } from "./event-stream.ts";
import { lazyAdapter } from "./lazy-adapter.ts";

export interface EventStreamDeps {
  /** The application database: the embedded stream's log when no URL is configured. */
  database: DatabaseHandle;
  /** Names this process to the engine (Kafka's client id). */
  clientId?: string;
  /** Redis key prefix / NATS subject and stream-name prefix (each adapter has a default). */
  prefix?: string;
  onError?: (error: Error) => void;
}

/**
 * The event stream for `TASKFLOW_STREAM_URL`: Kafka (`kafka://host:port[,host:port]`), Redis
 * Streams (`redis://`, `rediss://`), NATS JetStream (`nats://`), or, unset, the embedded
 * stream in the application database. An engine's client library is loaded on first use.
 */
export function createEventStream(url: string | undefined, deps: EventStreamDeps): EventStream {
  const onError = deps.onError ? { onError: deps.onError } : {};
  const prefix = deps.prefix ? { prefix: deps.prefix } : {};
  if (!url) return createEmbeddedEventStream({ database: deps.database, ...onError });
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  switch (scheme) {
    case "kafka":
      return lazyAdapter<EventStream>({ engine: "kafka" }, async () => {
        const { createKafkaEventStream, kafkaBrokersFromUrl } = await import(
          "./kafka/kafka.event-stream.ts"
        );
        return createKafkaEventStream({
          brokers: kafkaBrokersFromUrl(url),
          clientId: deps.clientId ?? "taskflow",
          ...onError,
        });
      });
    case "redis":
    case "rediss":
      return lazyAdapter<EventStream>({ engine: "redis" }, async () => {
        const { createRedisEventStream } = await import("./redis/redis.event-stream.ts");
        return createRedisEventStream({ url, ...prefix, ...onError });
      });
    case "nats":
      return lazyAdapter<EventStream>({ engine: "nats" }, async () => {
        const { createNatsEventStream } = await import("./nats/nats.event-stream.ts");
        return createNatsEventStream({ url, ...prefix, ...onError });
      });
    default:
      throw new Error(
        `TASKFLOW_STREAM_URL: unsupported scheme "${scheme}" (kafka, redis, rediss, nats)`,
      );
  }
}

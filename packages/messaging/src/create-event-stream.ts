import type { DatabaseHandle } from "@taskflow/db";
import { createEmbeddedEventStream } from "./embedded/embedded.event-stream.ts";
import type { EventStream } from "./event-stream.ts";
import { createKafkaEventStream, kafkaBrokersFromUrl } from "./kafka/kafka.event-stream.ts";
import { createNatsEventStream } from "./nats/nats.event-stream.ts";
import { createRedisEventStream } from "./redis/redis.event-stream.ts";

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
 * stream in the application database.
 */
export function createEventStream(url: string | undefined, deps: EventStreamDeps): EventStream {
  const onError = deps.onError ? { onError: deps.onError } : {};
  const prefix = deps.prefix ? { prefix: deps.prefix } : {};
  if (!url) return createEmbeddedEventStream({ database: deps.database, ...onError });
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  switch (scheme) {
    case "kafka":
      return createKafkaEventStream({
        brokers: kafkaBrokersFromUrl(url),
        clientId: deps.clientId ?? "taskflow",
        ...onError,
      });
    case "redis":
    case "rediss":
      return createRedisEventStream({ url, ...prefix, ...onError });
    case "nats":
      return createNatsEventStream({ url, ...prefix, ...onError });
    default:
      throw new Error(
        `TASKFLOW_STREAM_URL: unsupported scheme "${scheme}" (kafka, redis, rediss, nats)`,
      );
  }
}

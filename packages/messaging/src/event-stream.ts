/**
 * The event stream port: an append-only log of topics, read by consumer groups that commit
 * their offsets — Kafka's model, which Redis Streams, NATS JetStream and the embedded
 * (database) adapter implement too. Delivery is at-least-once: a consumer records each
 * event's id with its effect (in one transaction) and skips ids it has seen, and an offset
 * is committed only after the handler that received the record has resolved.
 *
 * Order: records with the same key keep their append order for every reader (one key, one
 * partition). Records with different keys may be read in any order. While a group's
 * membership is stable, its consumers never handle two records of one key at the same time:
 * Kafka gives each partition to one member of the group; the other engines let one consumer
 * of a (topic, group) read at a time while the others stand by and take over when it stops
 * or dies. (A consumer that lost its partition or lease while handling does not commit.)
 *
 * Topic and group names: letters, digits, `.`, `_` and `-`, at most 200 characters (Kafka's
 * rule; `.` and `_` may map to the same engine name, so do not use both for two names).
 */
export interface EventStream {
  readonly engine: "kafka" | "redis" | "nats" | "embedded";
  /**
   * Creates the topic if it is missing (with `partitions` where the engine has them). The
   * partition count is fixed at creation: calling it again with another count changes nothing.
   */
  ensureTopic(topic: string, options?: { partitions?: number }): Promise<void>;
  /**
   * Appends records; resolves once the engine has stored every one durably (Kafka: acks=all
   * on an idempotent producer). Rejects if any was refused: the caller appends them again
   * (consumers dedupe by `id`). The topic must exist (`ensureTopic`).
   */
  append(topic: string, records: readonly StreamRecord[]): Promise<void>;
  /**
   * Reads `topic` as a member of consumer group `group`, from the group's committed offsets
   * (a new group starts at the beginning of the topic). `handle` gets records in batches;
   * once it resolves, their offsets are committed. If it rejects, nothing of the batch is
   * committed and the records come again (after `retryDelayMs`, default 1 s).
   */
  consume(
    topic: string,
    group: string,
    handle: (batch: readonly StoredRecord[]) => Promise<void>,
    options?: ConsumeStreamOptions,
  ): Promise<StreamSubscription>;
  /**
   * Moves the group's committed offsets back to the beginning (a rebuild reads it all again).
   * Call it while no consumer of the group runs (Kafka refuses to reset an active group).
   */
  resetGroup(topic: string, group: string): Promise<void>;
  /**
   * Stops every subscription without waiting for the batches being handled: those are not
   * committed, so the group's next consumer gets them again — as after a crash. (For a clean
   * shutdown, `stop()` the subscriptions first.)
   */
  close(): Promise<void>;
}

export interface StreamRecord {
  /** The event's id: stable across re-appends, what consumers dedupe by. */
  id: string;
  /** Partition / ordering key (an order's id). */
  key: string;
  /** JSON-serialisable. */
  value: unknown;
  /** W3C trace context and the like. */
  headers?: Record<string, string>;
}

export interface StoredRecord extends StreamRecord {
  topic: string;
  partition: number;
  /**
   * Position in its partition, growing with each record (gaps allowed). A decimal string on
   * Kafka, NATS (the stream sequence) and embedded — Kafka offsets exceed 2^53 in principle —
   * and the entry id (`<ms>-<seq>`) on Redis. Compare offsets of one engine only.
   */
  offset: string;
  /** When the engine stored it. */
  appendedAt: Date;
}

export interface ConsumeStreamOptions {
  /** Most records per handler call (default 500). */
  maxBatch?: number;
  retryDelayMs?: number;
}

export interface StreamSubscription {
  /** Stops reading; a batch being handled finishes and is committed first. */
  stop(): Promise<void>;
}

/**
 * The task queue port: a durable work queue with at-least-once delivery, acknowledged by the
 * consumer after its effect is committed, and a dead-letter queue for messages given up on.
 *
 * Messages waiting are delivered most urgent first (QueueMessage.priority), then oldest first.
 *
 * @remarks Deliberately left out: ordering guarantees beyond that (workers run in parallel
 * anyway), and delayed delivery (retries are delayed by the outbox's `available_at`, one
 * mechanism for every engine).
 */
export interface TaskQueue {
  readonly engine: "rabbitmq" | "embedded";
  readonly name: string;
  /**
   * Publishes persistent messages; resolves once the engine has durably accepted every one
   * of them (publisher confirms). Rejects if any was refused: the caller retries them all.
   */
  publish(messages: readonly QueueMessage[]): Promise<void>;
  /** Starts delivering messages, at most `prefetch` unacknowledged at a time. */
  consume(onDelivery: (delivery: Delivery) => void, options: ConsumeOptions): Promise<Subscription>;
  /** Counts for monitoring and readiness. */
  stats(): Promise<QueueStats>;
  /** Up to `limit` dead-lettered messages, oldest first, without removing them. */
  peekDeadLetters(limit: number): Promise<QueueMessage[]>;
  /**
   * Removes the dead-lettered messages with these ids (QueueMessage.id) and returns how many
   * it removed; ids not found are ignored. The monitor calls it once the task a message was
   * about has been given a fresh message (a redrive), so the dead letter does not linger.
   */
  removeDeadLetters(ids: readonly string[]): Promise<number>;
  /**
   * Empties the dead-letter queue: every dead letter it holds now is removed for good, and the
   * count removed is returned. The work queue is untouched. The monitor's "purge" (an operator
   * gives up on them); the tasks they were about stay FAILED in PostgreSQL, still retryable.
   *
   * @remarks A dead letter another caller holds at that moment (RabbitMQ: a peek or a removal
   * in progress, which gives it back when done) may survive the purge.
   */
  purgeDeadLetters(): Promise<number>;
  /** Fails unless the engine answers now. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface QueueMessage {
  /** Stable id (the same across redeliveries and re-publishes). */
  id: string;
  body: unknown;
  headers?: Record<string, string>;
  /** 0 (most urgent) … 9; 5 when absent. Only what is waiting is reordered: a consumer's
   * prefetched deliveries are already its own. */
  priority?: number;
}

export interface Delivery {
  readonly message: QueueMessage;
  /** The engine delivered it before: a consumer took it and went away without an answer. */
  readonly redelivered: boolean;
  /** Done with it: the engine forgets it. */
  ack(): void;
  /** Give it back now, to be delivered again. */
  requeue(): void;
  /** Give up on it: it moves to the dead-letter queue. */
  deadLetter(reason: string): void;
}

export interface ConsumeOptions {
  prefetch: number;
}

export interface Subscription {
  /** Stops new deliveries; deliveries already handed out may still be settled. */
  stop(): Promise<void>;
}

export interface QueueStats {
  waiting: number;
  consumers: number;
  deadLettered: number;
}

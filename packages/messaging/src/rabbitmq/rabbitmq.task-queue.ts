import amqp, { type AmqpConnectionManager, type ChannelWrapper } from "amqp-connection-manager";
import type { Channel, ConfirmChannel, ConsumeMessage } from "amqplib";
import type {
  ConsumeOptions,
  Delivery,
  QueueMessage,
  QueueStats,
  Subscription,
  TaskQueue,
} from "../task-queue.ts";
import { coalesceFrameWrites } from "./coalesce-writes.ts";

export interface RabbitMqTaskQueueOptions {
  url: string;
  /** Work queue name; the dead-letter queue is `<name>.dead`. */
  queue: string;
  heartbeatSeconds?: number;
  /** Also bind the queue to a topic exchange (an event bus subscriber's queue). */
  bind?: { exchange: string; patterns: readonly string[] };
  onError?: (error: Error) => void;
}

/** RabbitMQ's priorities run upwards (0 lowest); ours run 0 (most urgent) … 9. */
const MAX_PRIORITY = 9;
const DEFAULT_PRIORITY = 5;

/**
 * RabbitMQ adapter: a durable classic queue with priorities 0–9 (persistent messages, fsynced
 * before the confirm), whose dead letters go to the quorum queue `<queue>.dead` through the
 * `<queue>.dlx` exchange. Not a quorum queue: RabbitMQ 3.10's quorum queues ignore message
 * priorities. Their delivery limit is not missed: a message that keeps killing its consumer
 * is stopped by the task's own attempt count (the worker's claim). The connection
 * manager reconnects with backoff, re-runs the topology setup on every new channel,
 * re-subscribes consumers and re-sends publishes that were never confirmed.
 */
export function createRabbitMqTaskQueue(
  options: RabbitMqTaskQueueOptions,
): TaskQueue & { ready(): Promise<void> } {
  const { queue } = options;
  const deadQueue = `${queue}.dead`;
  const deadExchange = `${queue}.dlx`;
  const connection: AmqpConnectionManager = amqp.connect([options.url], {
    heartbeatIntervalInSeconds: options.heartbeatSeconds ?? 10,
    reconnectTimeInSeconds: 1,
  });
  // One writev per turn instead of one per frame (see coalesce-writes.ts).
  connection.on("connect", ({ connection: model }) => coalesceFrameWrites(model));
  connection.on("connectFailed", ({ err }) => options.onError?.(err));
  connection.on("disconnect", ({ err }) => options.onError?.(err));

  const declareTopology = async (channel: Channel | ConfirmChannel) => {
    await channel.assertExchange(deadExchange, "fanout", { durable: true });
    await channel.assertQueue(deadQueue, {
      durable: true,
      arguments: { "x-queue-type": "quorum" },
    });
    await channel.bindQueue(deadQueue, deadExchange, "");
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        "x-queue-type": "classic",
        "x-max-priority": MAX_PRIORITY,
        "x-dead-letter-exchange": deadExchange,
      },
    });
    if (options.bind) {
      await channel.assertExchange(options.bind.exchange, "topic", { durable: true });
      for (const pattern of options.bind.patterns) {
        await channel.bindQueue(queue, options.bind.exchange, pattern);
      }
    }
  };

  const publisher: ChannelWrapper = connection.createChannel({
    name: `${queue}:publish`,
    confirm: true,
    setup: declareTopology,
  });
  publisher.on("error", (error) => options.onError?.(error));
  let consumerChannel: ChannelWrapper | undefined;

  return {
    engine: "rabbitmq",
    name: queue,

    async publish(messages: readonly QueueMessage[]) {
      // All in flight at once: each promise settles on its own confirm.
      await Promise.all(
        messages.map((m) =>
          publisher.sendToQueue(queue, Buffer.from(JSON.stringify(m.body)), {
            persistent: true,
            priority: MAX_PRIORITY - (m.priority ?? DEFAULT_PRIORITY),
            messageId: m.id,
            contentType: "application/json",
            headers: m.headers ?? {},
          }),
        ),
      );
    },

    async consume(onDelivery: (delivery: Delivery) => void, { prefetch }: ConsumeOptions) {
      const channel = connection.createChannel({
        name: `${queue}:consume`,
        confirm: false,
        setup: declareTopology,
      });
      channel.on("error", (error) => options.onError?.(error));
      // Bumped whenever the channel is lost: deliveries from before cannot be settled any more.
      let generation = 0;
      let acks = new AckBatcher(channel, () => true);
      const lost = () => {
        generation++;
        const born = generation;
        acks = new AckBatcher(channel, () => born === generation);
      };
      connection.on("disconnect", lost);
      channel.on("error", lost);
      consumerChannel = channel;
      const { consumerTag } = await channel.consume(
        queue,
        (raw: ConsumeMessage) => {
          const born = generation;
          onDelivery(toDelivery(channel, acks, raw, () => born === generation));
        },
        { noAck: false, prefetch },
      );
      return {
        async stop() {
          await channel.cancel(consumerTag).catch(() => {});
        },
      } satisfies Subscription;
    },

    async stats(): Promise<QueueStats> {
      const [main, dead] = await Promise.all([
        publisher.checkQueue(queue),
        publisher.checkQueue(deadQueue),
      ]);
      return {
        waiting: main.messageCount,
        consumers: main.consumerCount,
        deadLettered: dead.messageCount,
      };
    },

    async peekDeadLetters(limit: number) {
      // AMQP has no peek: read with acks off on a throwaway channel, then let them go back.
      const channel = connection.createChannel({ name: `${queue}:peek`, confirm: false });
      try {
        await channel.waitForConnect();
        const found: QueueMessage[] = [];
        for (let i = 0; i < limit; i++) {
          const message = await channel.get(deadQueue, { noAck: false });
          if (!message) break;
          found.push(toQueueMessage(message));
        }
        return found;
      } finally {
        await channel.close(); // unacked gets are requeued when the channel closes
      }
    },

    /**
     * AMQP cannot delete by id: every dead letter there was when the call began is taken
     * (acks on, one `get` at a time) on a throwaway channel; matches are acknowledged, the
     * others are held and go back when the channel closes. Bounded by the count at the start,
     * so dead letters arriving meanwhile cannot keep it going.
     *
     * @remarks The ones kept are requeued, so RabbitMQ flags them redelivered and may put them
     * behind dead letters that arrived during the call: "oldest first" in peekDeadLetters is
     * then only roughly so, and stats() may leave them out for a moment after the call (the
     * dead-letter queue is a quorum queue: it takes them back asynchronously). Dead letters another channel holds at
     * that moment (a concurrent peek or removal) are not seen. If the connection drops
     * midway, the call rejects: some matches may be gone already; calling it again removes
     * the rest.
     */
    async removeDeadLetters(ids: readonly string[]) {
      if (ids.length === 0) return 0;
      const wanted = new Set(ids);
      const channel = connection.createChannel({ name: `${queue}:remove-dead`, confirm: false });
      // After a reconnect the wrapper goes on with a new channel: what the old one held went
      // back, and the count taken at the start no longer bounds anything.
      let lost = false;
      const onLost = () => {
        lost = true;
      };
      connection.on("disconnect", onLost);
      try {
        await channel.waitForConnect();
        const { messageCount } = await channel.checkQueue(deadQueue);
        let removed = 0;
        for (let i = 0; i < messageCount; i++) {
          const message = await channel.get(deadQueue, { noAck: false });
          if (lost) throw new Error("RabbitMQ connection lost while removing dead letters");
          if (!message) break;
          // Every copy goes: a message dead-lettered twice has two under the same id.
          if (wanted.has(String(message.properties.messageId ?? ""))) {
            channel.ack(message);
            removed++;
          }
        }
        return removed;
      } finally {
        connection.off("disconnect", onLost);
        // Frames are ordered: the acks above are done when the close is; the rest go back.
        await channel.close();
      }
    },

    /**
     * AMQP's queue.purge on `<queue>.dead`: the ready dead letters go at once, counted by the
     * broker. Unacknowledged ones (held by a peek or a removal on another channel) are not
     * ready, so they survive and come back when that channel lets them go.
     */
    async purgeDeadLetters() {
      const { messageCount } = await publisher.purgeQueue(deadQueue);
      return messageCount;
    },

    /** Resolves once connected with the topology declared (bindings included). */
    async ready() {
      await publisher.waitForConnect();
    },

    async ping() {
      if (!connection.isConnected()) throw new Error("RabbitMQ is not connected");
      await publisher.checkQueue(queue);
    },

    async close() {
      await consumerChannel?.close().catch(() => {});
      await publisher.close().catch(() => {});
      await connection.close();
    },
  };
}

function toQueueMessage(
  raw: ConsumeMessage | { content: Buffer; properties: ConsumeMessage["properties"] },
): QueueMessage {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw.properties.headers ?? {})) {
    if (typeof value === "string") headers[key] = value;
  }
  const { priority } = raw.properties;
  return {
    id: String(raw.properties.messageId ?? ""),
    body: JSON.parse(raw.content.toString("utf8")),
    headers,
    ...(typeof priority === "number" ? { priority: MAX_PRIORITY - priority } : {}),
  };
}

/**
 * Acknowledgements of one tick leave together: the longest run of settled deliveries from
 * the oldest outstanding one as a single `ack(…, allUpTo)`, the rest one by one. A worker
 * settles a whole batch after its commit, so this is usually one frame instead of dozens.
 * A delivery still running stops the run: it is never acknowledged by accident.
 */
class AckBatcher {
  /** Unsettled deliveries by tag, in delivery (= tag) order. */
  private readonly outstanding = new Map<number, ConsumeMessage>();
  private readonly acked = new Set<number>();
  private scheduled = false;

  constructor(
    private readonly channel: ChannelWrapper,
    private readonly isCurrent: () => boolean,
  ) {}

  delivered(raw: ConsumeMessage) {
    this.outstanding.set(raw.fields.deliveryTag, raw);
  }

  /** Settled some other way (requeued, dead-lettered): no longer part of any run. */
  forget(raw: ConsumeMessage) {
    this.outstanding.delete(raw.fields.deliveryTag);
  }

  ack(raw: ConsumeMessage) {
    this.acked.add(raw.fields.deliveryTag);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => this.flush());
  }

  private flush() {
    this.scheduled = false;
    if (!this.isCurrent()) return;
    let last: ConsumeMessage | undefined;
    for (const [tag, raw] of this.outstanding) {
      if (!this.acked.has(tag)) break;
      last = raw;
      this.outstanding.delete(tag);
      this.acked.delete(tag);
    }
    if (last) this.channel.ack(last, true);
    for (const tag of this.acked) {
      const raw = this.outstanding.get(tag);
      if (raw) this.channel.ack(raw);
      this.outstanding.delete(tag);
    }
    this.acked.clear();
  }
}

function toDelivery(
  channel: ChannelWrapper,
  acks: AckBatcher,
  raw: ConsumeMessage,
  isCurrent: () => boolean,
): Delivery {
  let message: QueueMessage;
  try {
    message = toQueueMessage(raw);
  } catch {
    // Not JSON: the consumer sees no body and dead-letters it.
    message = { id: String(raw.properties.messageId ?? ""), body: undefined };
  }
  // A delivery tag belongs to the channel that delivered it: after a reconnect the broker
  // has already requeued it, and settling it on the new channel would close that channel.
  const settle = (fn: () => void) => {
    if (isCurrent()) fn();
  };
  acks.delivered(raw);
  return {
    message,
    redelivered: raw.fields.redelivered,
    ack: () => settle(() => acks.ack(raw)),
    requeue: () =>
      settle(() => {
        acks.forget(raw);
        channel.nack(raw, false, true);
      }),
    deadLetter: () =>
      settle(() => {
        acks.forget(raw);
        channel.nack(raw, false, false);
      }),
  };
}

import "./promise-with-resolvers.ts";
import {
  Admin,
  Consumer,
  compatibilityPartitioner,
  findErrorBy,
  ListOffsetTimestamps,
  type Message,
  type MessagesStream,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  stringDeserializer,
  stringSerializer,
  UserError,
} from "@platformatic/kafka";
import type {
  EventStream,
  StoredRecord,
  StreamRecord,
  StreamSubscription,
} from "../event-stream.ts";
import { consumeDefaults } from "../event-stream-consumer.ts";
import { assertStreamName } from "../event-stream-partition.ts";
import { subscribedRoundRobinAssigner } from "./subscribed-assigner.ts";

export interface KafkaEventStreamOptions {
  /** Bootstrap brokers, `host:port` each. */
  brokers: string[];
  /** Names this process to the brokers (their logs, quotas, group member listings). */
  clientId: string;
  /** Partitions of a topic `ensureTopic` creates without a count (default 3). */
  defaultPartitions?: number;
  /** Replicas of a created topic's partitions (default: the brokers' `default.replication.factor`). */
  replicationFactor?: number;
  /**
   * A member that stops heartbeating (it crashed) is removed from its group after this long,
   * and its partitions go to the others (default 10 s; the brokers accept 6 s to 30 min).
   */
  sessionTimeoutMs?: number;
  /** How often members heartbeat, hence how soon they notice a rebalance (default 1 s). */
  heartbeatIntervalMs?: number;
  /**
   * How long a rebalance waits for every member to rejoin. A member rejoins once the batch in
   * its handler is done, so this bounds a batch's handling: a member that takes longer is
   * dropped from the group, and its partitions may then be read by another at the same time
   * (default 60 s).
   */
  rebalanceTimeoutMs?: number;
  /** Longest a fetch waits at the broker for new records (default 500 ms). */
  maxWaitMs?: number;
  onError?: (error: Error) => void;
}

/** The record header carrying `StreamRecord.id` (reserved: a record may not set it). */
export const KAFKA_ID_HEADER = "Taskflow-Event-Id";

/** A produce request's records are split into chunks of about this size (the brokers' limit is 1 MiB). */
const CHUNK_BYTES = 512 * 1024;

type StreamConsumer = Consumer<string, Buffer, string, string>;
type StreamMessages = MessagesStream<string, Buffer, string, string>;
type StreamMessage = Message<string, Buffer, string, string>;

/**
 * The event stream on Apache Kafka, through @platformatic/kafka (pure JavaScript).
 *
 * - **append**: an idempotent producer with acks=all, so a retried produce request is not
 *   stored twice and a record is acknowledged once every in-sync replica has it. The record
 *   key is `StreamRecord.key`, partitioned as the Java client does (murmur2, like
 *   `partitionOf` for the other engines), so one key's records keep their order; the id and
 *   the headers are record headers, the value is JSON. A rejected append was not necessarily
 *   not stored: appending again may duplicate, and consumers dedupe by id.
 * - **consume**: one group member (a Kafka consumer) per call. Offsets are committed by hand,
 *   after the handler resolved, for the highest offset of each partition in the batch; a
 *   handler that rejects gets the same batch again after `retryDelayMs`. A member rejoins a
 *   rebalance only between batches (`JoinGate`), so partitions — keys — never have two
 *   readers at once. After a rebalance or a broker restart it reads again from the committed
 *   offsets (reopening its consumer when the client gave up), so uncommitted records come
 *   again — nothing is lost, some records are read twice.
 * - **resetGroup** moves the group's offsets of the topic to the earliest ones; Kafka allows
 *   it only while the group has no members, so it waits (up to the session timeout) for
 *   stopped members to leave.
 *
 * The clients connect on first use, so creating the stream is synchronous and cheap.
 */
export function createKafkaEventStream(options: KafkaEventStreamOptions): EventStream {
  if (options.brokers.length === 0) throw new Error("Kafka event stream: no brokers");
  const defaultPartitions = options.defaultPartitions ?? 3;
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1_000;
  const maxWaitMs = options.maxWaitMs ?? 500;
  const rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 60_000;
  const report = (error: unknown) =>
    options.onError?.(error instanceof Error ? error : new Error(String(error)));
  const base = { clientId: options.clientId, bootstrapBrokers: options.brokers };
  const knownTopics = new Set<string>();
  const members = new Set<GroupMember>();
  let admin: Admin | undefined;
  let producer: Producer<string, Buffer, string, string> | undefined;
  let closed = false;

  const checkOpen = () => {
    if (closed) throw new Error("Kafka event stream: closed");
  };

  function adminClient(): Admin {
    checkOpen();
    if (!admin) {
      admin = new Admin(base);
      admin.on("error", report);
    }
    return admin;
  }

  function producerClient() {
    checkOpen();
    if (!producer) {
      producer = new Producer<string, Buffer, string, string>({
        ...base,
        idempotent: true,
        acks: ProduceAcks.ALL,
        partitioner: compatibilityPartitioner,
        // About two minutes of retries (the Java producer's delivery.timeout.ms), enough for a
        // broker to restart: a retry keeps its producer id and sequence numbers, so the broker
        // drops a batch it had stored before its answer was lost. Once a send fails for good
        // the client takes a new producer id, and the caller's append again stores it twice.
        retries: 60,
        retryDelay: (_client, _operation, attempt) => Math.min(100 * 2 ** (attempt - 1), 2_000),
        serializers: {
          key: stringSerializer,
          headerKey: stringSerializer,
          headerValue: stringSerializer,
        },
      });
      producer.on("error", report);
    }
    return producer;
  }

  async function partitionsOf(topic: string): Promise<number[] | undefined> {
    try {
      const metadata = await adminClient().metadata({
        topics: [topic],
        forceUpdate: true,
        retries: 0,
      });
      return metadata.topics.get(topic)?.partitions.map((p) => p.leader);
    } catch (error) {
      if (isUnknownTopic(error)) return undefined;
      throw error;
    }
  }

  async function requireTopic(topic: string) {
    assertStreamName("topic", topic);
    if (knownTopics.has(topic)) return;
    if (!(await partitionsOf(topic))) {
      throw new Error(`event stream: unknown topic "${topic}" (call ensureTopic first)`);
    }
    knownTopics.add(topic);
  }

  return {
    engine: "kafka",

    async ensureTopic(topic, topicOptions) {
      assertStreamName("topic", topic);
      const partitions = topicOptions?.partitions ?? defaultPartitions;
      try {
        await adminClient().createTopics({
          topics: [topic],
          partitions,
          ...(options.replicationFactor ? { replicas: options.replicationFactor } : {}),
        });
      } catch (error) {
        // Created before, or meanwhile by another process: its partition count stands.
        if (!findErrorBy(error as Error, "apiId", "TOPIC_ALREADY_EXISTS")) throw error;
      }
      // Every partition led before the first append, so it is not refused while they settle.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const leaders = await partitionsOf(topic).catch(() => undefined);
        if (leaders && leaders.length > 0 && leaders.every((leader) => leader >= 0)) break;
        if (Date.now() > deadline) {
          throw new Error(`event stream: topic "${topic}" has no leader for every partition yet`);
        }
        await sleep(100);
      }
      knownTopics.add(topic);
    },

    async append(topic, records: readonly StreamRecord[]) {
      if (records.length === 0) return;
      await requireTopic(topic);
      const client = producerClient();
      // One chunk after the other: a later chunk is never stored before an earlier one.
      for (const chunk of chunks(records.map((record) => toProduced(topic, record)))) {
        await client.send({ messages: chunk });
      }
    },

    async consume(topic, group, handle, consumeOptions) {
      assertStreamName("group", group);
      const { maxBatch, retryDelayMs } = consumeDefaults(consumeOptions);
      await requireTopic(topic);
      checkOpen();
      const open = async (): Promise<Membership> => {
        const gate = new JoinGate();
        const consumer: StreamConsumer = new Consumer<string, Buffer, string, string>({
          ...base,
          groupId: group,
          autocommit: false,
          sessionTimeout: sessionTimeoutMs,
          heartbeatInterval: heartbeatIntervalMs,
          rebalanceTimeout: rebalanceTimeoutMs,
          // Asked for before every JoinGroup: held back until the batch in hand is handled.
          protocolsMetadata: () => gate.beforeJoin(),
          // Members of one group may read different topics (see subscribed-assigner.ts).
          partitionAssigner: subscribedRoundRobinAssigner,
          maxWaitTime: maxWaitMs,
          highWaterMark: Math.max(maxBatch * 2, 64),
          retries: 5,
          retryDelay: 500,
          deserializers: {
            key: stringDeserializer,
            headerKey: stringDeserializer,
            headerValue: stringDeserializer,
          },
        });
        consumer.on("consumer:group:join", () => gate.joined());
        // Emitted when a rejoin failed for good: this consumer is done, a new one takes over.
        consumer.on("error", (error: Error) => {
          report(error);
          gate.fail(error);
        });
        try {
          const stream = await consumer.consume({
            topics: [topic],
            autocommit: false,
            // The group's committed offsets; a new (or reset) group starts at the beginning.
            mode: MessagesStreamModes.COMMITTED,
            fallbackMode: MessagesStreamFallbackModes.EARLIEST,
          });
          return new Membership(consumer, stream, gate);
        } catch (error) {
          await consumer.close(true).catch(() => {});
          throw error;
        }
      };
      // The first join happens here, so a broker that cannot be reached fails the call.
      const first = await open();
      const member = new GroupMember(open, first, handle, { maxBatch, retryDelayMs, report });
      members.add(member);
      return {
        async stop() {
          await member.stop();
          members.delete(member);
        },
      } satisfies StreamSubscription;
    },

    async resetGroup(topic, group) {
      assertStreamName("topic", topic);
      assertStreamName("group", group);
      const client = adminClient();
      // Kafka changes a group's offsets only while it has no members: members that stopped
      // have left already; one that died leaves when its session times out.
      const deadline = Date.now() + sessionTimeoutMs + 5_000;
      for (;;) {
        const described = (await client.describeGroups({ groups: [group] })).get(group);
        const count = described?.members.size ?? 0;
        if (count === 0) break;
        if (Date.now() > deadline) {
          throw new Error(
            `event stream: group "${group}" still has ${count} member(s); stop its consumers before resetting it`,
          );
        }
        await sleep(250);
      }
      const leaders = await partitionsOf(topic);
      if (!leaders) throw new Error(`event stream: unknown topic "${topic}"`);
      const earliest = await client.listOffsets({
        topics: [
          {
            name: topic,
            partitions: leaders.map((_, partitionIndex) => ({
              partitionIndex,
              timestamp: ListOffsetTimestamps.EARLIEST,
            })),
          },
        ],
      });
      await client.alterConsumerGroupOffsets({
        groupId: group,
        topics: [
          {
            name: topic,
            partitionOffsets: (earliest[0]?.partitions ?? []).map((p) => ({
              partition: p.partitionIndex,
              offset: p.offset,
            })),
          },
        ],
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...members].map((member) => member.abandon()));
      members.clear();
      await producer?.close().catch(report);
      await admin?.close().catch(report);
    },
  };
}

/**
 * `kafka://host:port[,host:port…]` → its brokers (`TASKFLOW_STREAM_URL`). A URL parser cannot
 * read the list, so it is split by hand; a path or query after the hosts is ignored.
 */
export function kafkaBrokersFromUrl(url: string): string[] {
  const match = /^kafka:\/\/([^/?#]+)/.exec(url);
  const brokers = (match?.[1] ?? "").split(",").filter((host) => host.length > 0);
  if (brokers.length === 0) throw new Error(`not a kafka://host:port URL: ${url}`);
  return brokers.map((host) => (/:\d+$/.test(host) ? host : `${host}:9092`));
}

/** The client answers a metadata request for a missing topic with this (2.12: a UserError). */
function isUnknownTopic(error: unknown): boolean {
  return (
    (error instanceof UserError && error.message.startsWith("Unknown topic ")) ||
    !!findErrorBy(error as Error, "apiId", "UNKNOWN_TOPIC_OR_PARTITION")
  );
}

function toProduced(topic: string, record: StreamRecord) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    if (name.toLowerCase() === KAFKA_ID_HEADER.toLowerCase()) {
      throw new Error(`event stream: header "${name}" is reserved on Kafka`);
    }
    headers[name] = value;
  }
  headers[KAFKA_ID_HEADER] = record.id;
  return {
    topic,
    key: record.key,
    value: Buffer.from(JSON.stringify(record.value ?? null)),
    headers,
  };
}

function* chunks<T extends { key: string; value: Buffer; headers: Record<string, string> }>(
  messages: T[],
): Generator<T[]> {
  let chunk: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    let size = 64 + Buffer.byteLength(message.key) + message.value.length;
    for (const [name, value] of Object.entries(message.headers)) {
      size += Buffer.byteLength(name) + Buffer.byteLength(value);
    }
    if (chunk.length > 0 && bytes + size > CHUNK_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(message);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

function toStoredRecord(message: StreamMessage): StoredRecord {
  const headers: Record<string, string> = {};
  let id: string | undefined;
  for (const [name, value] of message.headerEntries) {
    if (name === KAFKA_ID_HEADER) id = value;
    else headers[name] = value ?? "";
  }
  const text = message.value?.toString("utf8") ?? "null";
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text; // written by another producer: handed over as it is
  }
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset.toString(),
    // A record without the header (another producer's) is identified by its position.
    id: id ?? `${message.topic}/${message.partition}/${message.offset}`,
    key: message.key ?? "",
    value,
    headers,
    appendedAt: new Date(Number(message.timestamp)),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Holds this member's JoinGroup back until the batch in its handler is done, and starts no
 * batch while the group rebalances — what the Java consumer gets by rejoining only from
 * poll(). A partition therefore moves between members only between batches, and no two
 * members handle one partition (one key) at once. The client rejoins from its heartbeat timer
 * otherwise, mid-batch.
 */
class JoinGate {
  rebalancing = false;
  failure: Error | undefined;
  onChange: (() => void) | undefined;
  private busy: Promise<unknown> | undefined;

  async beforeJoin(): Promise<Buffer> {
    this.rebalancing = true;
    await this.busy?.catch(() => {});
    return EMPTY_USER_DATA;
  }

  joined() {
    this.rebalancing = false;
    this.onChange?.();
  }

  fail(error: Error) {
    this.failure ??= error;
    this.onChange?.();
  }

  /** Runs the handler as the batch in hand (the next JoinGroup waits for it). */
  async handle(work: Promise<void>): Promise<void> {
    this.busy = work;
    try {
      await work;
    } finally {
      if (this.busy === work) this.busy = undefined;
    }
  }
}

const EMPTY_USER_DATA = Buffer.alloc(0);

/** One consumer in the group and its stream of messages (prefetched up to its high-water mark). */
class Membership {
  private failure: Error | undefined;
  private signalled = false;
  private waiter: (() => void) | undefined;

  constructor(
    readonly consumer: StreamConsumer,
    readonly stream: StreamMessages,
    readonly gate: JoinGate,
  ) {
    // A 'readable' listener keeps the stream paused-but-consumed, so the client keeps
    // fetching while a batch is being handled.
    stream.on("readable", () => this.signal());
    stream.on("error", (error) => {
      this.failure ??= error;
      this.signal();
    });
    stream.on("close", () => this.signal());
    stream.on("end", () => this.signal());
    gate.onChange = () => this.signal();
  }

  /** Why it cannot go on, if it cannot: the stream ended or failed, or a rejoin failed. */
  get broken(): Error | undefined {
    if (this.gate.failure) return this.gate.failure;
    if (this.stream.destroyed || this.stream.readableEnded) {
      return this.failure ?? new Error("Kafka event stream: the consumer's stream ended");
    }
    return undefined;
  }

  /** Whether the group's rebalance gave this member the partition. */
  owns(partition: number): boolean {
    return (this.consumer.assignments ?? []).some((a) => a.partitions.includes(partition));
  }

  signal() {
    this.signalled = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Resolves on the next signal (data, a join, end, error, a stop), at once if one came meanwhile. */
  wait(): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiter = () => {
        this.signalled = false;
        resolve();
      };
    });
  }

  /**
   * Up to `max` messages already fetched, of partitions this member owns (what was fetched
   * before a rebalance took a partition away is dropped: its new owner reads it).
   */
  take(max: number): StreamMessage[] {
    const batch: StreamMessage[] = [];
    while (batch.length < max) {
      const message = this.stream.read() as StreamMessage | null;
      if (message === null) break;
      if (this.owns(message.partition)) batch.push(message);
    }
    return batch;
  }

  async leave(report: (error: unknown) => void) {
    // Closing the stream sends the offsets still queued; closing the consumer leaves the group.
    await this.stream.close().catch(report);
    await this.consumer.close(true).catch(report);
  }
}

/**
 * The loop of one `consume` call: take what was fetched, hand it over, commit it; reopen the
 * consumer (after `retryDelayMs`) whenever its stream fails — the client gives up on a broker
 * that stays away, and a commit refused after a rebalance ends the stream too.
 */
class GroupMember {
  private state: "running" | "stopping" | "abandoned" = "running";
  private current: Membership | undefined;
  private sleeper: (() => void) | undefined;
  private readonly finished: Promise<void>;

  constructor(
    private readonly open: () => Promise<Membership>,
    first: Membership,
    private readonly handle: (batch: readonly StoredRecord[]) => Promise<void>,
    private readonly options: {
      maxBatch: number;
      retryDelayMs: number;
      report: (error: unknown) => void;
    },
  ) {
    this.current = first;
    this.finished = this.run();
  }

  /** Finishes and commits the batch being handled, then leaves the group. */
  async stop() {
    if (this.state === "running") this.state = "stopping";
    this.wake();
    await this.finished;
  }

  /** Leaves at once, as a crash would: the batch being handled is not committed. */
  async abandon() {
    this.state = "abandoned";
    this.wake();
    const current = this.current;
    this.current = undefined;
    await current?.leave(() => {});
  }

  private get running(): boolean {
    return this.state === "running";
  }

  private wake() {
    this.current?.signal();
    this.sleeper?.();
  }

  private async run() {
    while (this.running) {
      try {
        this.current ??= await this.open();
        await this.pump(this.current);
      } catch (error) {
        if (this.running) this.options.report(error);
      }
      const current = this.current;
      this.current = undefined;
      if (current) await current.leave(this.running ? this.options.report : () => {});
      if (this.running) await this.sleep(this.options.retryDelayMs);
    }
  }

  private async pump(membership: Membership) {
    const { maxBatch, retryDelayMs, report } = this.options;
    const { gate } = membership;
    for (;;) {
      if (!this.running) return;
      const broken = membership.broken;
      if (broken) throw broken;
      const batch = gate.rebalancing ? [] : membership.take(maxBatch);
      if (batch.length === 0) {
        await membership.wait();
        continue;
      }
      let records = batch.map(toStoredRecord);
      for (;;) {
        try {
          await gate.handle(this.handle(records));
          break;
        } catch (error) {
          report(error);
          // Not committed: the group's next member (or this one, reopened) reads it again.
          if (!this.running) return;
          await this.sleep(retryDelayMs);
          while (this.running && gate.rebalancing && !membership.broken) await membership.wait();
          if (!this.running) return;
          const failure = membership.broken;
          if (failure) throw failure;
          // A rebalance meanwhile may have given some of its partitions to another member.
          records = records.filter((r) => membership.owns(r.partition));
          if (records.length === 0) break;
        }
      }
      if (this.state === "abandoned") return;
      await this.commit(
        membership,
        batch.filter((m) => records.some((r) => r.partition === m.partition)),
      );
    }
  }

  /** Commits, per partition, past the batch's highest offset. */
  private async commit(membership: Membership, batch: StreamMessage[]) {
    const highest = new Map<number, StreamMessage>();
    for (const message of batch) {
      const seen = highest.get(message.partition);
      if (!seen || seen.offset < message.offset) highest.set(message.partition, message);
    }
    const commits = Promise.all([...highest.values()].map((m) => Promise.resolve(m.commit())));
    commits.catch(() => {});
    // A commit queued on a stream that then fails is never answered: stop waiting then (its
    // records are read again from the last committed offsets).
    let giveUp: (() => void) | undefined;
    const streamGone = new Promise<void>((resolve) => {
      giveUp = resolve;
    });
    const onClose = () => giveUp?.();
    const timer = setTimeout(onClose, 30_000);
    membership.stream.once("close", onClose);
    try {
      await Promise.race([commits, streamGone]);
    } catch (error) {
      this.options.report(error);
    } finally {
      clearTimeout(timer);
      membership.stream.removeListener("close", onClose);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.sleeper === done) self.sleeper = undefined;
        resolve();
      }
      this.sleeper = done;
    });
  }
}

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { connect, headers, millis, type NatsConnection, nanos } from "@nats-io/transport-node";
import type {
  EventStream,
  StoredRecord,
  StreamRecord,
  StreamSubscription,
} from "../event-stream.ts";
import {
  consumeDefaults,
  renewingLease,
  StreamConsumer,
  type StreamReader,
} from "../event-stream-consumer.ts";
import { assertStreamName, partitionOf } from "../event-stream-partition.ts";

export interface NatsEventStreamOptions {
  /** nats://host:port, or several separated by commas. */
  url: string;
  /**
   * First token of every subject and of every stream name this stream uses (default
   * "taskflow"); a test run uses its own.
   */
  prefix?: string;
  /**
   * A consumer's lease on its (topic, group), renewed every third of it; a consumer that dies
   * without leaving is taken over this long after its last renewal. Set when the prefix's lease
   * stream is first created (its max age), then read from it. JetStream's ack wait is two
   * thirds of it, so a dead consumer's messages are due for redelivery before it is taken over.
   */
  leaseMs?: number;
  /** Longest wait of a pull for messages (JetStream's minimum: 1 s). */
  pollMs?: number;
  /** Partitions of a topic created without a count. */
  defaultPartitions?: number;
  /** How long JetStream remembers an event id to drop a re-append of it (default 2 min). */
  duplicateWindowMs?: number;
  onError?: (error: Error) => void;
}

/** The header carrying a record's key; its id travels as `Nats-Msg-Id`. */
const KEY_HEADER = "Taskflow-Key";
const MSG_ID_HEADER = "Nats-Msg-Id";

/**
 * The event stream on NATS JetStream. A topic is a stream (`<prefix>_<topic>`, dots made
 * underscores) over one subject per partition, `<prefix>.<topic>.<partition>`: the subjects
 * list is the partition count. A record's id is its `Nats-Msg-Id`, so JetStream drops a
 * re-append within the duplicate window; its key and headers are message headers.
 *
 * A group is a durable pull consumer (deliver all, explicit acks, no delivery limit); a
 * record is committed when its ack is confirmed, after the handler resolved. A failed batch
 * is nak'ed in order, and JetStream redelivers nak'ed and expired messages before new ones,
 * so the retry comes first. One consumer per (topic, group) pulls at a time — it holds a
 * lease, a compare-and-set message on `<prefix>_leases` (max one per subject, aged out after
 * the lease) — because a pull consumer shared by several clients would hand one key's records
 * to two of them at once. A reset deletes the durable consumer and creates it again.
 */
export function createNatsEventStream(options: NatsEventStreamOptions): EventStream {
  const prefix = options.prefix ?? "taskflow";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) throw new Error(`invalid NATS prefix "${prefix}"`);
  const pollMs = Math.max(options.pollMs ?? 1_000, 1_000);
  const defaultPartitions = options.defaultPartitions ?? 8;
  const duplicateWindowMs = options.duplicateWindowMs ?? 120_000;
  const report = (error: Error) => options.onError?.(error);
  const consumers = new Set<StreamConsumer<JsMsg[]>>();
  const partitionCounts = new Map<string, number>();
  const leaseStream = `${prefix}_leases`;

  let connecting: Promise<{ nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager }>;
  let leaseTtl: Promise<number> | undefined;
  let closed = false;

  // Connected on first use, so the factory stays synchronous like the other adapters'.
  function client() {
    if (closed) return Promise.reject(new Error("event stream closed"));
    connecting ??= (async () => {
      const nc = await connect({
        servers: options.url.split(","),
        name: `taskflow-${hostname()}-${process.pid}`,
        maxReconnectAttempts: -1,
      });
      void (async () => {
        for await (const status of nc.status()) {
          if (status.type === "error") report(status.error);
        }
      })();
      const jsm = await jetstreamManager(nc);
      return { nc, js: jetstream(nc), jsm };
    })();
    return connecting;
  }

  const names = (topic: string) => {
    const token = topic.replaceAll(".", "_");
    return { stream: `${prefix}_${token}`, subject: (p: number) => `${prefix}.${token}.${p}` };
  };

  async function partitionCount(topic: string): Promise<number> {
    const known = partitionCounts.get(topic);
    if (known !== undefined) return known;
    const { jsm } = await client();
    try {
      const info = await jsm.streams.info(names(topic).stream);
      partitionCounts.set(topic, info.config.subjects.length);
      return info.config.subjects.length;
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.StreamNotFound)) {
        throw new Error(`event stream: unknown topic "${topic}" (call ensureTopic first)`);
      }
      throw error;
    }
  }

  /** The lease stream's max age: the lease time to live, whoever created the stream. */
  function leaseTimeToLive(): Promise<number> {
    leaseTtl ??= (async () => {
      const { jsm } = await client();
      const wanted = options.leaseMs ?? 15_000;
      try {
        const info = await jsm.streams.info(leaseStream);
        return millis(info.config.max_age);
      } catch (error) {
        if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      }
      const created = await jsm.streams.add({
        name: leaseStream,
        subjects: [`${leaseStream}.>`],
        storage: StorageType.File,
        max_msgs_per_subject: 1,
        max_age: nanos(wanted),
        duplicate_window: nanos(Math.min(wanted, duplicateWindowMs)),
      });
      return millis(created.config.max_age);
    })().catch((error) => {
      leaseTtl = undefined;
      throw error;
    });
    return leaseTtl;
  }

  return {
    engine: "nats",

    async ensureTopic(topic, topicOptions) {
      assertStreamName("topic", topic);
      const { jsm } = await client();
      const { stream, subject } = names(topic);
      try {
        await jsm.streams.info(stream);
        return;
      } catch (error) {
        if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      }
      const partitions = topicOptions?.partitions ?? defaultPartitions;
      try {
        await jsm.streams.add({
          name: stream,
          subjects: Array.from({ length: partitions }, (_, p) => subject(p)),
          storage: StorageType.File,
          duplicate_window: nanos(duplicateWindowMs),
        });
      } catch (error) {
        // Created meanwhile by another process (with its own partition count, which stands).
        if (!String((error as Error).message).includes("already in use")) throw error;
      }
    },

    async append(topic, records: readonly StreamRecord[]) {
      if (records.length === 0) return;
      const partitions = await partitionCount(topic);
      const { js } = await client();
      const { stream, subject } = names(topic);
      // Built first, so a reserved header refuses the whole append before anything is sent.
      const messages = records.map((record) => {
        const h = headers();
        for (const [name, value] of Object.entries(record.headers ?? {})) {
          const lower = name.toLowerCase();
          if (lower.startsWith("nats-") || lower === KEY_HEADER.toLowerCase()) {
            throw new Error(`event stream: header "${name}" is reserved on NATS`);
          }
          h.set(name, value);
        }
        h.set(KEY_HEADER, record.key);
        return { record, headers: h };
      });
      // Published together: one connection keeps them in order, and every ack is awaited.
      await Promise.all(
        messages.map(({ record, headers: h }) =>
          js.publish(
            subject(partitionOf(record.key, partitions)),
            JSON.stringify(record.value ?? null),
            { msgID: record.id, headers: h, expect: { streamName: stream } },
          ),
        ),
      );
    },

    async consume(topic, group, handle, consumeOptions) {
      assertStreamName("topic", topic);
      assertStreamName("group", group);
      const { maxBatch, retryDelayMs } = consumeDefaults(consumeOptions);
      await partitionCount(topic);
      const ttl = await leaseTimeToLive();
      const ackWaitMs = Math.floor((ttl * 2) / 3);
      const { nc, js, jsm } = await client();
      const { stream } = names(topic);
      const reader = natsReader({
        nc,
        js,
        jsm,
        topic,
        stream,
        durable: group.replaceAll(".", "_"),
        leaseStream,
        leaseSubject: `${leaseStream}.${stream}.${group.replaceAll(".", "_")}`,
        ttl,
        ackWaitMs,
        pollMs,
        report,
      });
      const consumer = new StreamConsumer(reader, handle, {
        maxBatch,
        retryDelayMs,
        pollMs,
        readBlocks: true,
        keepAliveMs: Math.max(Math.floor(ackWaitMs / 3), 100),
        onError: report,
      });
      consumers.add(consumer);
      return {
        async stop() {
          await consumer.stop();
          consumers.delete(consumer);
        },
      } satisfies StreamSubscription;
    },

    async resetGroup(topic, group) {
      const { jsm } = await client();
      const { stream } = names(topic);
      const durable = group.replaceAll(".", "_");
      try {
        await jsm.consumers.delete(stream, durable);
      } catch (error) {
        if (isApiError(error, JetStreamApiCodes.ConsumerNotFound)) return; // nothing to reset
        throw error;
      }
      const ackWaitMs = Math.floor(((await leaseTimeToLive()) * 2) / 3);
      await jsm.consumers.add(stream, consumerConfig(durable, ackWaitMs));
    },

    async close() {
      closed = true;
      await Promise.all([...consumers].map((c) => c.abandon()));
      consumers.clear();
      if (!connecting) return;
      const { nc } = await connecting.catch(() => ({ nc: undefined }));
      await nc?.flush().catch(() => {});
      await nc?.close();
    },
  };
}

function natsReader(context: {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  topic: string;
  stream: string;
  durable: string;
  leaseStream: string;
  leaseSubject: string;
  ttl: number;
  ackWaitMs: number;
  pollMs: number;
  report: (error: Error) => void;
}): StreamReader<JsMsg[]> {
  const { nc, js, jsm, stream, durable, leaseSubject } = context;
  const holder = `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  let consumer: Consumer | undefined;

  const ensureConsumer = async () => {
    await jsm.consumers.add(stream, consumerConfig(durable, context.ackWaitMs));
    return js.consumers.get(stream, durable);
  };

  // In order: JetStream's redelivery queue is first in, first out.
  const giveBack = async (messages: JsMsg[]) => {
    for (const m of messages) m.nak();
    await nc.flush();
  };

  const toRecord = (m: JsMsg): StoredRecord => {
    const recordHeaders: Record<string, string> = {};
    let key = "";
    let id = "";
    for (const [name, values] of m.headers ?? []) {
      const value = values[0] ?? "";
      if (name === KEY_HEADER) key = value;
      else if (name === MSG_ID_HEADER) id = value;
      else if (!name.toLowerCase().startsWith("nats-")) recordHeaders[name] = value;
    }
    return {
      topic: context.topic,
      partition: Number(m.subject.slice(m.subject.lastIndexOf(".") + 1)),
      offset: String(m.seq),
      id,
      key,
      value: m.json(),
      headers: recordHeaders,
      appendedAt: m.time,
    };
  };

  return {
    async acquire() {
      let seq: number;
      try {
        // Stored only if the subject holds no lease: none was taken, or it aged out.
        seq = (await js.publish(leaseSubject, holder, { expect: { lastSubjectSequence: 0 } })).seq;
      } catch (error) {
        if (isApiError(error, JetStreamApiCodes.StreamWrongLastSequence)) return undefined;
        throw error;
      }
      const lease = renewingLease(
        context.ttl,
        {
          async renew() {
            try {
              const ack = await js.publish(leaseSubject, holder, {
                expect: { lastSubjectSequence: seq },
              });
              seq = ack.seq;
              return true;
            } catch (error) {
              if (isApiError(error, JetStreamApiCodes.StreamWrongLastSequence)) return false;
              throw error;
            }
          },
          async release() {
            // Deletes this holder's message only: a later holder's has another sequence.
            await jsm.streams.deleteMessage(context.leaseStream, seq).catch(() => {});
          },
        },
        context.report,
      );
      try {
        consumer = await ensureConsumer();
      } catch (error) {
        await lease.release();
        throw error;
      }
      return lease;
    },

    async read(max) {
      consumer ??= await ensureConsumer();
      let first: JsMsg | null;
      try {
        first = await consumer.next({ expires: context.pollMs });
      } catch (error) {
        consumer = undefined; // deleted by a reset, or the stream is gone: look it up again
        throw error;
      }
      if (!first) return undefined;
      const messages = [first];
      try {
        // No "no wait" pull in this client: ask for what is there now, so the pull returns at once.
        let more = first.info.pending;
        if (first.redelivered) {
          const info = await consumer.info();
          more = info.num_ack_pending - 1 + info.num_pending;
        }
        more = Math.min(max - 1, more);
        if (more > 0) {
          for await (const m of await consumer.fetch({ max_messages: more, expires: 1_000 })) {
            messages.push(m);
          }
        }
      } catch (error) {
        context.report(error as Error); // the batch is what came, in order
      }
      return { records: messages.map(toRecord), batch: messages };
    },

    async commit(messages) {
      const confirmed = await Promise.all(messages.map((m) => m.ackAck().catch(() => false)));
      // An ack that was lost leaves its message pending: JetStream redelivers it after the ack wait.
      if (!confirmed.every(Boolean))
        throw new Error("event stream: JetStream did not confirm every ack");
    },

    giveBack,

    keepAlive(messages) {
      for (const m of messages) m.working();
    },
  };
}

/** A group's durable pull consumer: "deliver all", so a new group (or one just reset) reads from the start. */
function consumerConfig(durable: string, ackWaitMs: number) {
  return {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_deliver: -1,
    max_ack_pending: -1,
  };
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

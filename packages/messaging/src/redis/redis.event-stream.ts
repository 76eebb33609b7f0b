import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { Redis } from "ioredis";
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

export interface RedisEventStreamOptions {
  url: string;
  /** Prefix of every key this stream writes (default "taskflow:stream"); a test run uses its own. */
  prefix?: string;
  /**
   * A consumer's lease on its (topic, group), renewed every third of it. A consumer that dies
   * without leaving is taken over by a standby this long after its last renewal.
   */
  leaseMs?: number;
  /** Longest wait in XREADGROUP, and between looks at the lease while standing by. */
  pollMs?: number;
  /** Partitions of a topic created without a count. */
  defaultPartitions?: number;
  onError?: (error: Error) => void;
}

// The lease's value is its holder's token: only the holder renews or deletes it.
const RENEW = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;

type Entry = [id: string, fields: string[] | null];

/**
 * The event stream on Redis Streams. One stream per topic (`<prefix>:topic:<topic>`), so a
 * key's records — all records, in fact — keep their append order; a record's partition
 * (`hash(key) mod partitions`, the count kept in `<prefix>:topics`) is stored with it, as on
 * the other engines. Nothing is trimmed (no MAXLEN): the log is kept.
 *
 * A group is a Redis consumer group; committing is XACK. One consumer per (topic, group)
 * reads at a time — it holds the lease `<prefix>:lease:<topic>:<group>` (SET NX PX, renewed);
 * the others stand by — because XREADGROUP hands entries to every consumer of a group in turn,
 * which would let two of them handle one key's records at once. The holder first takes over
 * whatever the group has pending (XAUTOCLAIM: a dead consumer's entries, or its own batch
 * whose handler failed), oldest first, and only then reads new entries (XREADGROUP >).
 */
export function createRedisEventStream(options: RedisEventStreamOptions): EventStream {
  const prefix = options.prefix ?? "taskflow:stream";
  const leaseMs = options.leaseMs ?? 15_000;
  const pollMs = options.pollMs ?? 1_000;
  const defaultPartitions = options.defaultPartitions ?? 8;
  const report = (error: Error) => options.onError?.(error);
  const redis = new Redis(options.url, { maxRetriesPerRequest: 3 });
  redis.on("error", report);
  const consumers = new Set<StreamConsumer<string[]>>();
  const partitionCounts = new Map<string, number>();

  const topicsKey = `${prefix}:topics`;
  const streamKey = (topic: string) => `${prefix}:topic:${topic}`;

  async function partitionCount(topic: string): Promise<number> {
    const known = partitionCounts.get(topic);
    if (known !== undefined) return known;
    const stored = await redis.hget(topicsKey, topic);
    if (stored === null) {
      throw new Error(`event stream: unknown topic "${topic}" (call ensureTopic first)`);
    }
    partitionCounts.set(topic, Number(stored));
    return Number(stored);
  }

  return {
    engine: "redis",

    async ensureTopic(topic, topicOptions) {
      assertStreamName("topic", topic);
      await redis.hsetnx(topicsKey, topic, topicOptions?.partitions ?? defaultPartitions);
    },

    async append(topic, records: readonly StreamRecord[]) {
      if (records.length === 0) return;
      const partitions = await partitionCount(topic);
      const key = streamKey(topic);
      // One MULTI/EXEC: the batch goes in together, in order. "Stored durably" is what the
      // server's persistence makes of it (appendonly with appendfsync always or everysec).
      const transaction = redis.multi();
      for (const record of records) {
        transaction.xadd(
          key,
          "*",
          "id",
          record.id,
          "key",
          record.key,
          "partition",
          String(partitionOf(record.key, partitions)),
          "value",
          JSON.stringify(record.value ?? null),
          "headers",
          JSON.stringify(record.headers ?? {}),
        );
      }
      const results = await transaction.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) {
        throw new Error(`event stream: Redis refused the append to "${topic}"`, {
          cause: failed?.[0],
        });
      }
    },

    async consume(topic, group, handle, consumeOptions) {
      assertStreamName("topic", topic);
      assertStreamName("group", group);
      await partitionCount(topic);
      const { maxBatch, retryDelayMs } = consumeDefaults(consumeOptions);
      const reader = redisReader({
        redis,
        url: options.url,
        topic,
        group,
        key: streamKey(topic),
        leaseKey: `${prefix}:lease:${topic}:${group}`,
        leaseMs,
        pollMs,
        report,
      });
      const consumer = new StreamConsumer(reader, handle, {
        maxBatch,
        retryDelayMs,
        pollMs,
        readBlocks: true,
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
      // Recreated rather than `XGROUP SETID 0`: SETID keeps the pending entries, which the
      // next consumer would claim and handle ahead of the replay, out of order.
      const key = streamKey(topic);
      await redis
        .multi()
        .xgroup("DESTROY", key, group)
        .xgroup("CREATE", key, group, "0", "MKSTREAM")
        .exec();
    },

    async close() {
      await Promise.all([...consumers].map((c) => c.abandon()));
      consumers.clear();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

function redisReader(context: {
  redis: Redis;
  url: string;
  topic: string;
  group: string;
  key: string;
  leaseKey: string;
  leaseMs: number;
  pollMs: number;
  report: (error: Error) => void;
}): StreamReader<string[]> {
  const { redis, topic, group, key, leaseKey, leaseMs } = context;
  const name = `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  // XREADGROUP BLOCK holds its connection: this consumer's own.
  let blocking: Redis | undefined;

  const createGroup = async () => {
    await redis.xgroup("CREATE", key, group, "0", "MKSTREAM").catch((error: Error) => {
      if (!String(error.message).includes("BUSYGROUP")) throw error;
    });
  };

  const toRecords = (entries: Entry[]): StoredRecord[] =>
    entries.flatMap(([id, fields]) => {
      if (!fields) return [];
      const field = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2)
        field.set(fields[i] ?? "", fields[i + 1] ?? "");
      return [
        {
          topic,
          partition: Number(field.get("partition") ?? 0),
          offset: id,
          id: field.get("id") ?? "",
          key: field.get("key") ?? "",
          value: JSON.parse(field.get("value") ?? "null"),
          headers: JSON.parse(field.get("headers") ?? "{}"),
          appendedAt: new Date(Number(id.split("-")[0])),
        },
      ];
    });

  return {
    async acquire() {
      const token = name;
      const taken = await redis.set(leaseKey, token, "PX", leaseMs, "NX");
      if (taken !== "OK") return undefined;
      await createGroup();
      return renewingLease(
        leaseMs,
        {
          renew: async () => Number(await redis.eval(RENEW, 1, leaseKey, token, leaseMs)) === 1,
          release: async () => {
            await redis.eval(RELEASE, 1, leaseKey, token);
          },
        },
        context.report,
      );
    },

    async read(max) {
      try {
        // Pending entries first (the lease holder owns the whole group, so no idle time).
        const [, claimed, deleted] = (await redis.xautoclaim(
          key,
          group,
          name,
          0,
          "0-0",
          "COUNT",
          max,
        )) as [string, Entry[], string[]];
        if (deleted?.length) await redis.xack(key, group, ...deleted);
        if (claimed.length > 0) {
          return { records: toRecords(claimed), batch: claimed.map(([id]) => id) };
        }
        if (!blocking) {
          blocking = new Redis(context.url, { maxRetriesPerRequest: null });
          blocking.on("error", () => {}); // reported by the shared connection
        }
        const read = (await blocking.xreadgroup(
          "GROUP",
          group,
          name,
          "COUNT",
          max,
          "BLOCK",
          context.pollMs,
          "STREAMS",
          key,
          ">",
        )) as [string, Entry[]][] | null;
        const entries = read?.[0]?.[1] ?? [];
        if (entries.length === 0) return undefined;
        return { records: toRecords(entries), batch: entries.map(([id]) => id) };
      } catch (error) {
        // The group was reset (recreated) or the stream deleted under us.
        if (String((error as Error).message).includes("NOGROUP")) {
          await createGroup();
          return undefined;
        }
        throw error;
      }
    },

    async commit(ids) {
      await redis.xack(key, group, ...ids);
    },

    interrupt() {
      blocking?.disconnect();
    },

    async end() {
      blocking?.disconnect();
      blocking = undefined;
    },
  };
}

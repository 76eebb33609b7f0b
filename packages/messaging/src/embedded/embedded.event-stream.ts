import type { Database, DatabaseHandle, Kysely, RawBuilder } from "@taskflow/db";
import { PREPARED, sql } from "@taskflow/db";
import type {
  EventStream,
  StoredRecord,
  StreamRecord,
  StreamSubscription,
} from "../event-stream.ts";
import { consumeDefaults, StreamConsumer, type StreamReader } from "../event-stream-consumer.ts";
import { assertStreamName, partitionOf } from "../event-stream-partition.ts";

export interface EmbeddedEventStreamOptions {
  database: DatabaseHandle;
  /** Longest wait between looks at the log (and, standing by, at the lock) without a NOTIFY. */
  pollMs?: number;
  /** Partitions of a topic created without a count. */
  defaultPartitions?: number;
  onError?: (error: Error) => void;
}

const STREAM_CHANNEL = "taskflow_stream";

/** A topic's partition count (fixed at its creation); throws if the topic does not exist. */
export async function embeddedTopicPartitions(db: Kysely<Database>, topic: string) {
  const row = await db
    .selectFrom("stream_topics")
    .select("partitions")
    .where("topic", "=", topic)
    .executeTakeFirst();
  if (!row) throw new Error(`event stream: unknown topic "${topic}" (call ensureTopic first)`);
  return row.partitions;
}

/**
 * An append to the embedded stream as CTEs, for a statement whose CTE named `records` holds
 * the records (columns `partition`, `event_id`, `key`, `value`, `headers`, and `ord`, their
 * order within a partition): `append` is one, and a writer in the application database can
 * add its events to the transaction that makes the change they describe (no outbox row, no
 * relay) — if it computes partitions as `partitionOf` does.
 *
 * The partition rows are locked in one order (two appends cannot deadlock) and held until
 * commit, so a partition's offsets become visible in the order they were handed out. A record
 * whose partition row is missing gets no offset: the statement fails (NOT NULL) and writes
 * nothing. `stream_stored` has a row per record stored; read `stream_woken` in the statement
 * to wake consumers (a NOTIFY at commit).
 */
export function embeddedAppendCtes(topic: string, records: string): RawBuilder<unknown> {
  const input = sql.table(records);
  return sql`
    stream_counts AS (SELECT partition, count(*) AS n FROM ${input} GROUP BY partition),
    stream_locked AS (
      SELECT partition FROM stream_partitions
      WHERE topic = ${topic} AND partition IN (SELECT partition FROM stream_counts)
      ORDER BY partition
      FOR UPDATE
    ),
    stream_claimed AS (
      UPDATE stream_partitions p SET next_offset = p.next_offset + c.n
      FROM stream_counts c
      WHERE p.topic = ${topic} AND p.partition = c.partition
        AND p.partition IN (SELECT partition FROM stream_locked)
      RETURNING p.partition, p.next_offset - c.n AS first_offset
    ),
    stream_stored AS (
      INSERT INTO stream_records (topic, partition, "offset", event_id, key, value, headers)
      SELECT ${topic}, r.partition,
             c.first_offset + row_number() OVER (PARTITION BY r.partition ORDER BY r.ord) - 1,
             r.event_id, r.key, r.value, r.headers
      FROM ${input} r LEFT JOIN stream_claimed c USING (partition)
      RETURNING partition
    ),
    stream_woken AS (
      SELECT pg_notify(${STREAM_CHANNEL}, ${topic}) WHERE EXISTS (SELECT FROM stream_stored)
    )`;
}

interface OffsetsRead {
  /** The next offset per partition once the batch is committed. */
  next: Map<number, number>;
}

/**
 * The embedded event stream: the log is rows of `stream_records` in the application database,
 * each group's committed offsets rows of `stream_group_offsets` (see the event_stream
 * migration). An append is one transaction that locks the partition rows it writes to, takes
 * their next offsets, inserts the records and NOTIFYs, so consumers wake at once (they also
 * poll). One consumer per (topic, group) reads at a time — it holds a session advisory lock;
 * the others stand by and retry the lock every `pollMs` — so a key's records are never handled
 * by two consumers at once, and a PostgreSQL session that dies releases its lock with it.
 */
export function createEmbeddedEventStream(options: EmbeddedEventStreamOptions): EventStream {
  const { database, onError } = options;
  const db = database.db;
  const pollMs = options.pollMs ?? 1_000;
  const defaultPartitions = options.defaultPartitions ?? 8;
  // Each running consumer, with what stops its LISTEN.
  const consumers = new Map<StreamConsumer<OffsetsRead>, () => Promise<void>>();
  // Fixed at a topic's creation, so known once read.
  const partitionCounts = new Map<string, number>();

  async function partitionCount(topic: string): Promise<number> {
    const known = partitionCounts.get(topic) ?? (await embeddedTopicPartitions(db, topic));
    partitionCounts.set(topic, known);
    return known;
  }

  return {
    engine: "embedded",

    async ensureTopic(topic, topicOptions) {
      assertStreamName("topic", topic);
      const partitions = topicOptions?.partitions ?? defaultPartitions;
      await sql`
        WITH created AS (
          INSERT INTO stream_topics (topic, partitions) VALUES (${topic}, ${partitions})
          ON CONFLICT (topic) DO NOTHING
          RETURNING topic, partitions
        )
        INSERT INTO stream_partitions (topic, partition)
        SELECT topic, generate_series(0, partitions - 1) FROM created
      `.execute(db);
    },

    async append(topic, records: readonly StreamRecord[]) {
      if (records.length === 0) return;
      const partitions = await partitionCount(topic);
      const placed = records.map((r) => partitionOf(r.key, partitions));
      // One statement: no BEGIN/COMMIT round trips.
      await sql`${sql.raw(PREPARED)}
        WITH records AS (
          SELECT * FROM unnest(
            ${placed}::int[], ${records.map((r) => r.id)}::text[],
            ${records.map((r) => r.key)}::text[],
            ${records.map((r) => JSON.stringify(r.value ?? null))}::jsonb[],
            ${records.map((r) => JSON.stringify(r.headers ?? {}))}::jsonb[]
          ) WITH ORDINALITY AS r(partition, event_id, key, value, headers, ord)
        ),
        ${embeddedAppendCtes(topic, "records")}
        SELECT (SELECT count(*) FROM stream_woken) AS woken
      `.execute(db);
    },

    async consume(topic, group, handle, consumeOptions) {
      assertStreamName("topic", topic);
      assertStreamName("group", group);
      const { maxBatch, retryDelayMs } = consumeDefaults(consumeOptions);
      await partitionCount(topic);
      const reader = embeddedReader(database, topic, group);
      const consumer = new StreamConsumer(reader, handle, {
        maxBatch,
        retryDelayMs,
        pollMs,
        readBlocks: false,
        ...(onError ? { onError } : {}),
      });
      const unlisten = await database.listen(STREAM_CHANNEL, (payload) => {
        if (payload === topic) consumer.wake();
      });
      consumers.set(consumer, unlisten);
      database.onReconnect(() => consumer.wake());
      return {
        async stop() {
          await unlisten();
          await consumer.stop();
          consumers.delete(consumer);
        },
      } satisfies StreamSubscription;
    },

    async resetGroup(topic, group) {
      await db
        .deleteFrom("stream_group_offsets")
        .where("topic", "=", topic)
        .where("consumer_group", "=", group)
        .execute();
    },

    async close() {
      await Promise.all(
        [...consumers].map(async ([consumer, unlisten]) => {
          await unlisten();
          await consumer.abandon();
        }),
      );
      consumers.clear();
    },
  };
}

function embeddedReader(
  database: DatabaseHandle,
  topic: string,
  group: string,
): StreamReader<OffsetsRead> {
  const db = database.db;
  return {
    acquire: () => database.tryLock(`taskflow_stream:${topic}:${group}`),

    async read(max) {
      // Per partition, the records after the group's offset (by the primary key), then the
      // first `max` of them taking partitions in turn; within a partition, in offset order.
      const { rows } = await sql<{
        partition: number;
        offset: number;
        event_id: string;
        key: string;
        value: unknown;
        headers: Record<string, string>;
        appended_at: Date;
      }>`
        SELECT r.partition, r."offset", r.event_id, r.key, r.value, r.headers, r.appended_at
        FROM stream_partitions p
        LEFT JOIN stream_group_offsets g
          ON g.topic = p.topic AND g.consumer_group = ${group} AND g.partition = p.partition
        CROSS JOIN LATERAL (
          SELECT * FROM stream_records r
          WHERE r.topic = p.topic AND r.partition = p.partition
            AND r."offset" >= coalesce(g.next_offset, 0)
          ORDER BY r."offset"
          LIMIT ${max}
        ) r
        WHERE p.topic = ${topic} AND p.next_offset > coalesce(g.next_offset, 0)
        ORDER BY r."offset" - coalesce(g.next_offset, 0), r.partition
        LIMIT ${max}
      `.execute(db);
      if (rows.length === 0) return undefined;
      const next = new Map<number, number>();
      const records: StoredRecord[] = rows.map((row) => {
        next.set(row.partition, Math.max(next.get(row.partition) ?? 0, row.offset + 1));
        return {
          topic,
          partition: row.partition,
          offset: String(row.offset),
          id: row.event_id,
          key: row.key,
          value: row.value,
          headers: row.headers,
          appendedAt: new Date(row.appended_at),
        };
      });
      return { records, batch: { next } };
    },

    async commit({ next }) {
      // Its own statement, after the handler resolved (no transaction spans the handler).
      await sql`
        INSERT INTO stream_group_offsets (topic, consumer_group, partition, next_offset)
        SELECT ${topic}, ${group}, o.partition, o.next_offset
        FROM unnest(${[...next.keys()]}::int[], ${[...next.values()]}::bigint[])
             AS o(partition, next_offset)
        ON CONFLICT (topic, consumer_group, partition)
        DO UPDATE SET next_offset = excluded.next_offset, committed_at = now()
      `.execute(db);
    },
  };
}

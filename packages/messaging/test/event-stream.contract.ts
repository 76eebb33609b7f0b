import { waitFor } from "@taskflow/testing";
import { afterEach, describe, expect, it } from "vitest";
import type {
  ConsumeStreamOptions,
  EventStream,
  StoredRecord,
  StreamRecord,
  StreamSubscription,
} from "../src/index.ts";

/**
 * What every EventStream adapter promises, run against each real engine. `open()` returns a
 * fresh adapter instance (a second call: a second process on the same engine); `newTopic()`
 * a topic name no other test uses (its group names need not be unique). The fixture's
 * adapters should use short leases and polls, or the takeover tests wait for the defaults.
 */
export interface EventStreamFixture {
  open(): Promise<EventStream>;
  newTopic(): string;
}

const PARTITIONS = 4;

interface Value {
  key: string;
  n: number;
}

/** `count` records over `keys` keys, numbered per key in append order from `from`. */
function records(keys: number, count: number, tag = "r", from = 0): StreamRecord[] {
  const next = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const key = `order-${i % keys}`;
    const n = next.get(key) ?? from;
    next.set(key, n + 1);
    return {
      id: `${tag}-${key}-${n}`,
      key,
      value: { key, n } satisfies Value,
      headers: { traceparent: `00-${tag}-${i}` },
    };
  });
}

/** Reads `topic` as `group`, keeping every batch the handler got. */
async function collect(
  stream: EventStream,
  topic: string,
  group: string,
  options: ConsumeStreamOptions & {
    onBatch?: (batch: readonly StoredRecord[]) => Promise<void>;
  } = {},
) {
  const batches: StoredRecord[][] = [];
  const { onBatch, ...consumeOptions } = options;
  const subscription = await stream.consume(
    topic,
    group,
    async (batch) => {
      batches.push([...batch]);
      await onBatch?.(batch);
    },
    { retryDelayMs: 50, ...consumeOptions },
  );
  return {
    batches,
    subscription,
    get records() {
      return batches.flat();
    },
  };
}

/** For each key, the `n` of its records in the order they were handled. */
function orderPerKey(handled: readonly StoredRecord[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const record of handled) {
    const { key, n } = record.value as Value;
    byKey.set(key, [...(byKey.get(key) ?? []), n]);
  }
  return byKey;
}

function ids(handled: readonly { id: string }[]): string[] {
  return handled.map((r) => r.id);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeEventStreamContract(
  engine: string,
  fixture: () => Promise<EventStreamFixture | undefined>,
) {
  describe(`EventStream contract on ${engine}`, async () => {
    const f = await fixture();
    const opened: EventStream[] = [];
    const subscriptions: StreamSubscription[] = [];
    const newTopic = async () => {
      if (!f) throw new Error("fixture unavailable");
      const topic = f.newTopic();
      const stream = await open();
      await stream.ensureTopic(topic, { partitions: PARTITIONS });
      return { topic, stream };
    };
    const open = async () => {
      if (!f) throw new Error("fixture unavailable");
      const stream = await f.open();
      opened.push(stream);
      return stream;
    };
    const track = <T extends { subscription: StreamSubscription }>(consumer: T) => {
      subscriptions.push(consumer.subscription);
      return consumer;
    };
    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop().catch(() => {})));
      await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
    });

    it.skipIf(!f)(
      "delivers every appended record once, with its id, key, value and headers",
      async () => {
        const { topic, stream } = await newTopic();
        const sent = records(6, 30);
        await stream.append(topic, sent);
        const consumer = track(await collect(stream, topic, "readers"));
        await waitFor(() => consumer.records.length >= 30, { what: "30 records" });
        await pause(300);
        const got = consumer.records;
        expect(got).toHaveLength(30);
        expect(new Set(ids(got))).toEqual(new Set(ids(sent)));
        const third = got.find((r) => r.id === sent[3]?.id);
        expect(third).toMatchObject({
          topic,
          key: sent[3]?.key,
          value: sent[3]?.value,
          headers: sent[3]?.headers,
        });
        expect(third?.appendedAt).toBeInstanceOf(Date);
        expect(typeof third?.offset).toBe("string");
        // One key, one partition.
        for (const key of new Set(got.map((r) => r.key))) {
          const partitions = new Set(got.filter((r) => r.key === key).map((r) => r.partition));
          expect(partitions.size).toBe(1);
          const [partition] = partitions;
          expect(partition).toBeGreaterThanOrEqual(0);
          expect(partition).toBeLessThan(PARTITIONS);
        }
      },
    );

    it.skipIf(!f)(
      "keeps each key's append order across partitions, appends and batches",
      async () => {
        const { topic, stream } = await newTopic();
        const keys = 7;
        for (let round = 0; round < 4; round++) {
          await stream.append(topic, records(keys, 14, `a${round}`, round * 2));
        }
        const consumer = track(await collect(stream, topic, "ordered", { maxBatch: 9 }));
        await waitFor(() => consumer.records.length >= 56, { what: "56 records" });
        expect(Math.max(...consumer.batches.map((b) => b.length))).toBeLessThanOrEqual(9);
        const order = orderPerKey(consumer.records);
        expect(order.size).toBe(keys);
        for (const ns of order.values()) expect(ns).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        // The records were spread over more than one partition.
        expect(new Set(consumer.records.map((r) => r.partition)).size).toBeGreaterThan(1);
      },
    );

    it.skipIf(!f)("lets a second group read everything on its own", async () => {
      const { topic, stream } = await newTopic();
      await stream.append(topic, records(3, 12));
      const first = track(await collect(stream, topic, "projection"));
      await waitFor(() => first.records.length >= 12, { what: "the first group" });
      await first.subscription.stop();
      const second = track(await collect(await open(), topic, "audit"));
      await waitFor(() => second.records.length >= 12, { what: "the second group" });
      await pause(200);
      expect(new Set(ids(second.records))).toEqual(new Set(ids(first.records)));
      expect(second.records).toHaveLength(12);
    });

    it.skipIf(!f)(
      "lets one group read two topics with a consumer each, every record of each topic read by its own",
      async () => {
        const a = await newTopic();
        const b = await newTopic();
        await a.stream.append(a.topic, records(5, 20, "a"));
        await b.stream.append(b.topic, records(5, 20, "b"));
        // As the analytics service does: one group, one consumer (group member) per topic.
        const group = `both-${a.topic}`;
        const readsA = track(await collect(await open(), a.topic, group));
        const readsB = track(await collect(await open(), b.topic, group));
        await waitFor(() => readsA.records.length >= 20 && readsB.records.length >= 20, {
          what: "both topics read whole",
          timeoutMs: 30_000,
        });
        expect(new Set(ids(readsA.records))).toEqual(new Set(ids(records(5, 20, "a"))));
        expect(new Set(ids(readsB.records))).toEqual(new Set(ids(records(5, 20, "b"))));
        expect(readsA.records.every((r) => r.topic === a.topic)).toBe(true);
        expect(readsB.records.every((r) => r.topic === b.topic)).toBe(true);
      },
    );

    it.skipIf(!f)("an unknown topic refuses appends", async () => {
      const stream = await open();
      if (!f) return;
      await expect(stream.append(f.newTopic(), records(1, 1))).rejects.toThrow();
    });

    it.skipIf(!f)(
      "commits a batch only once its handler resolved: stop() waits for it, and a restarted consumer resumes after it",
      async () => {
        const { topic, stream } = await newTopic();
        const sent = records(4, 24);
        await stream.append(topic, sent);
        let release: () => void = () => {};
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        let seen = 0;
        const first = await collect(stream, topic, "resumable", {
          maxBatch: 5,
          onBatch: async () => {
            if (++seen === 2) await gate;
          },
        });
        await waitFor(() => first.batches.length === 2, { what: "a second batch in its handler" });
        let stopped = false;
        const stopping = first.subscription.stop().then(() => {
          stopped = true;
        });
        await pause(300);
        expect(stopped).toBe(false); // still handling
        release();
        await stopping;
        const handledFirst = first.records;
        expect(handledFirst.length).toBeGreaterThan(0);
        expect(handledFirst.length).toBeLessThan(24);

        const more = records(4, 8, "later", 6);
        await stream.append(topic, more);
        const second = track(await collect(await open(), topic, "resumable"));
        const rest = 32 - handledFirst.length;
        await waitFor(() => second.records.length >= rest, { what: `the other ${rest} records` });
        await pause(300);
        // Nothing lost, nothing of a committed batch again.
        expect(second.records).toHaveLength(rest);
        expect(new Set([...ids(handledFirst), ...ids(second.records)])).toEqual(
          new Set(ids([...sent, ...more])),
        );
        for (const [key, ns] of orderPerKey([...handledFirst, ...second.records])) {
          expect(ns, key).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        }
      },
    );

    it.skipIf(!f)(
      "gives a batch whose handler threw again, before anything after it, until it succeeds",
      async () => {
        const { topic, stream } = await newTopic();
        await stream.append(topic, records(3, 15));
        let failures = 0;
        const consumer = track(
          await collect(stream, topic, "retrying", {
            maxBatch: 4,
            onBatch: async (batch) => {
              if (batch.some((r) => r.id === "r-order-1-2") && failures < 2) {
                failures++;
                throw new Error("projection unavailable");
              }
            },
          }),
        );
        await waitFor(() => failures === 2 && new Set(ids(consumer.records)).size === 15, {
          what: "every record, after two failures",
        });
        // The failed batch came back first, each time: the next batch began where it began.
        const failedAt = consumer.batches.findIndex((b) => b.some((r) => r.id === "r-order-1-2"));
        const failed = consumer.batches[failedAt];
        expect(consumer.batches[failedAt + 1]?.[0]?.id).toBe(failed?.[0]?.id);
        expect(consumer.batches[failedAt + 2]?.[0]?.id).toBe(failed?.[0]?.id);
        // Once it succeeded, every key's order holds in what was handled after it.
        const succeeded = consumer.batches.slice(failedAt + 2).flat();
        const before = consumer.batches.slice(0, failedAt).flat();
        for (const [, ns] of orderPerKey([...before, ...succeeded])) {
          expect(ns).toEqual([0, 1, 2, 3, 4]);
        }
      },
    );

    it.skipIf(!f)(
      "hands what a consumer held when it was closed (as in a crash) to the group's next consumer",
      async () => {
        const { topic } = await newTopic();
        const crashing = await open();
        await crashing.append(topic, records(2, 10));
        const held: StoredRecord[][] = [];
        await crashing.consume(
          topic,
          "failover",
          async (batch) => {
            held.push([...batch]);
            await new Promise(() => {}); // never answers
          },
          { maxBatch: 4 },
        );
        await waitFor(() => held.length === 1, { what: "a batch in the crashing consumer" });
        await crashing.close();

        const next = track(await collect(await open(), topic, "failover"));
        await waitFor(() => next.records.length >= 10, { what: "every record again" });
        await pause(300);
        expect(next.records).toHaveLength(10);
        expect(ids(next.records)).toEqual(expect.arrayContaining(ids(held[0] ?? [])));
        for (const ns of orderPerKey(next.records).values()) expect(ns).toEqual([0, 1, 2, 3, 4]);
      },
    );

    it.skipIf(!f)(
      "never lets two consumers of a group handle one key at once, and a standby takes over",
      async () => {
        const { topic, stream } = await newTopic();
        const busy = new Map<string, string>();
        const overlaps: string[] = [];
        const handled: StoredRecord[] = [];
        const member = (name: string) => async (batch: readonly StoredRecord[]) => {
          for (const r of batch) {
            const other = busy.get(r.key);
            if (other && other !== name) overlaps.push(`${r.key}: ${other} and ${name}`);
            busy.set(r.key, name);
          }
          await pause(30);
          handled.push(...batch);
          for (const r of batch) if (busy.get(r.key) === name) busy.delete(r.key);
        };
        const a = await stream.consume(topic, "members", member("a"), { maxBatch: 5 });
        const b = await (await open()).consume(topic, "members", member("b"), { maxBatch: 5 });
        subscriptions.push(b);
        for (let round = 0; round < 3; round++) {
          await stream.append(topic, records(5, 10, `m${round}`, round * 2));
          await pause(100);
        }
        await waitFor(() => new Set(ids(handled)).size >= 30, { what: "the first 30" });
        await a.stop(); // whoever was active, the group goes on
        await stream.append(topic, records(5, 10, "m3", 6));
        await waitFor(() => new Set(ids(handled)).size >= 40, { what: "all 40" });
        expect(overlaps).toEqual([]);
        // Each key's records were first handled in their append order.
        for (const [key, ns] of orderPerKey(handled)) {
          const firsts = ns.filter((n, i) => ns.indexOf(n) === i);
          expect(firsts, key).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        }
      },
    );

    it.skipIf(!f)("resetGroup replays the topic from the start, in order", async () => {
      const { topic, stream } = await newTopic();
      await stream.append(topic, records(3, 9));
      const first = await collect(stream, topic, "rebuild");
      await waitFor(() => first.records.length >= 9, { what: "the first pass" });
      await first.subscription.stop();

      await stream.resetGroup(topic, "rebuild");
      await stream.resetGroup(topic, "never-consumed"); // harmless
      const replay = track(await collect(await open(), topic, "rebuild"));
      await waitFor(() => replay.records.length >= 9, { what: "the replay" });
      await pause(300);
      expect(replay.records).toHaveLength(9);
      for (const ns of orderPerKey(replay.records).values()) expect(ns).toEqual([0, 1, 2]);
    });
  });
}

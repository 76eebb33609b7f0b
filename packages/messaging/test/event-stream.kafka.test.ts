import { Admin } from "@platformatic/kafka";
import { engineAvailable, testEngines, uniqueName } from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";
import { type EventStream, partitionOf } from "../src/index.ts";
import { createKafkaEventStream, kafkaBrokersFromUrl } from "../src/kafka/kafka.event-stream.ts";
import { describeEventStreamContract } from "./event-stream.contract.ts";

// Topics and groups are cluster-wide on Kafka: this run's carry its name, and are deleted after.
const run = uniqueName("tftest");
const topics = new Set<string>();
const groups = new Set<string>();
const available = await engineAvailable("kafka");

const newTopic = () => {
  const topic = uniqueName("events");
  topics.add(topic);
  return topic;
};

/** The contract's fixed group names, made this run's own. */
function runGroups(stream: EventStream): EventStream {
  const scoped = (group: string) => {
    const name = `${run}.${group}`;
    groups.add(name);
    return name;
  };
  return {
    engine: stream.engine,
    ensureTopic: (topic, options) => stream.ensureTopic(topic, options),
    append: (topic, records) => stream.append(topic, records),
    consume: (topic, group, handle, options) =>
      stream.consume(topic, scoped(group), handle, options),
    resetGroup: (topic, group) => stream.resetGroup(topic, scoped(group)),
    close: () => stream.close(),
  };
}

const open = () =>
  createKafkaEventStream({
    brokers: testEngines.kafkaBrokers,
    clientId: run,
    // The brokers' minimum session; members notice rebalances within half a second.
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
  });

afterAll(async () => {
  if (!available || topics.size === 0) return;
  const admin = new Admin({ clientId: run, bootstrapBrokers: testEngines.kafkaBrokers });
  try {
    for (const group of groups) await admin.deleteGroups({ groups: [group] }).catch(() => {});
    const existing = new Set(await admin.listTopics());
    const ours = [...topics].filter((topic) => existing.has(topic));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  } finally {
    await admin.close();
  }
});

describeEventStreamContract("Apache Kafka", async () => {
  if (!available) return undefined;
  return { newTopic, open: async () => runGroups(open()) };
});

describe("Kafka event stream", () => {
  it("reads kafka:// URLs with one or several brokers", () => {
    expect(kafkaBrokersFromUrl("kafka://127.0.0.1:9092")).toEqual(["127.0.0.1:9092"]);
    expect(kafkaBrokersFromUrl("kafka://a:9093,b:9094/")).toEqual(["a:9093", "b:9094"]);
    expect(kafkaBrokersFromUrl("kafka://broker")).toEqual(["broker:9092"]);
    expect(() => kafkaBrokersFromUrl("kafka://")).toThrow();
  });

  it.skipIf(!available)(
    "creates topics with the partitions asked for, once, and partitions keys like the other engines",
    async () => {
      const stream = open();
      const admin = new Admin({ clientId: run, bootstrapBrokers: testEngines.kafkaBrokers });
      try {
        const topic = newTopic();
        await stream.ensureTopic(topic, { partitions: 5 });
        await stream.ensureTopic(topic, { partitions: 2 }); // exists: unchanged
        const metadata = await admin.metadata({ topics: [topic] });
        expect(metadata.topics.get(topic)?.partitionsCount).toBe(5);

        const keys = Array.from({ length: 20 }, (_, i) => `order-${i}`);
        await stream.append(
          topic,
          keys.map((key) => ({ id: `id-${key}`, key, value: { key } })),
        );
        const seen: { key: string; partition: number }[] = [];
        const subscription = await stream.consume(topic, `${run}.layout`, async (batch) => {
          seen.push(...batch.map((r) => ({ key: r.key, partition: r.partition })));
        });
        groups.add(`${run}.layout`);
        const deadline = Date.now() + 15_000;
        while (seen.length < keys.length && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await subscription.stop();
        expect(seen).toHaveLength(keys.length);
        for (const { key, partition } of seen) expect(partition).toBe(partitionOf(key, 5));
      } finally {
        await stream.close();
        await admin.close();
      }
    },
  );

  it.skipIf(!available)("refuses a record header named like the id header", async () => {
    const stream = open();
    try {
      const topic = newTopic();
      await stream.ensureTopic(topic);
      await expect(
        stream.append(topic, [
          { id: "a", key: "k", value: 1, headers: { "taskflow-event-id": "forged" } },
        ]),
      ).rejects.toThrow(/reserved/);
    } finally {
      await stream.close();
    }
  });
});

// @platformatic/kafka calls Promise.withResolvers (Node 22); TaskFlow's polyfill supplies it on Node 20.
import "../../packages/messaging/src/kafka/promise-with-resolvers.ts";
import { randomUUID } from "node:crypto";
import path from "node:path";
import {
  Admin,
  compatibilityPartitioner,
  ListOffsetTimestamps,
  ProduceAcks,
  Producer,
  stringSerializer,
} from "@platformatic/kafka";
import { ensureKafkaLibs } from "../../deploy/kafka/local-broker.ts";
import { runToEnd } from "./children.ts";
import { type Summary, sleep, summarize } from "./util.ts";

/** An admin client of the broker at `bootstrap` (host:port). Close it. */
export function kafkaAdmin(bootstrap: string, clientId = "taskflow-bench"): Admin {
  const admin = new Admin({ clientId, bootstrapBrokers: [bootstrap], retries: 2 });
  admin.on("error", () => {});
  return admin;
}

/** The topic's end offset (the next offset to be written), summed over its partitions. */
export async function endOffsetSum(admin: Admin, topic: string): Promise<number> {
  const metadata = await admin.metadata({ topics: [topic] });
  const partitions = metadata.topics.get(topic)?.partitions.length ?? 0;
  const listed = await admin.listOffsets({
    topics: [
      {
        name: topic,
        partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
          partitionIndex,
          timestamp: ListOffsetTimestamps.LATEST,
        })),
      },
    ],
  });
  let sum = 0;
  for (const p of listed[0]?.partitions ?? []) sum += Number(p.offset);
  return sum;
}

/**
 * Samples a topic's end offsets every `intervalMs` (one ListOffsets request each): when records
 * landed in the log, as the broker saw them (within the sampling interval).
 */
export class EndOffsetSampler {
  readonly samples: { at: number; total: number }[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  errors = 0;

  constructor(
    private readonly admin: Admin,
    private readonly topic: string,
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const started = performance.now();
        try {
          const total = await endOffsetSum(this.admin, this.topic);
          this.samples.push({ at: performance.now(), total });
        } catch {
          this.errors++;
        }
        await sleep(Math.max(0, this.intervalMs - (performance.now() - started)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The first sample at which the end offset reached `total` (performance.now()). */
  reached(total: number): number | undefined {
    return this.samples.find((s) => s.total >= total)?.at;
  }
}

/** A record shaped like TaskFlow's order.created envelope, `bytes` long (the value). */
export function sampleOrderRecord(bytes = 0): Buffer {
  const envelope = {
    id: randomUUID(),
    type: "order.created",
    occurred_at: new Date().toISOString(),
    schema_version: 1,
    data: {
      order_id: randomUUID(),
      owner_id: randomUUID(),
      items: [
        {
          sku: "KB-101",
          name: "Mechanical keyboard",
          quantity: 1,
          unit_price_cents: 8999,
          line_total_cents: 8999,
        },
        {
          sku: "CB-USB",
          name: "USB-C cable, 2 m",
          quantity: 2,
          unit_price_cents: 1299,
          line_total_cents: 2598,
        },
      ],
      total_cents: 11597,
      currency: "EUR",
      created_at: new Date().toISOString(),
    },
  };
  const json = Buffer.from(JSON.stringify(envelope));
  if (bytes <= json.length) return json;
  return Buffer.concat([json, Buffer.alloc(bytes - json.length, 0x20)]);
}

export interface KafkaProducerRate {
  /** Records acknowledged per second. */
  recordsPerSecond: number;
  /** Latency of one send (queued in the client included), ms. */
  send: Summary;
  inFlight: number;
  recordBytes: number;
  seconds: number;
  /** CPU of this process per record, ms (the client's own cost). */
  clientCpuMsPerRecord: number;
}

/**
 * The raw rate of the client TaskFlow's Kafka adapter uses (@platformatic/kafka), configured
 * as that adapter's producer is (idempotent, acks=all, the Java client's partitioner): one
 * record per `send`, each awaited, `inFlight` sends outstanding at once (an idempotent
 * producer of this client keeps one produce request in flight per broker connection, so the
 * others wait in its queue). Keys are random ids; the id travels in a header, as TaskFlow's.
 */
export async function measureKafkaProducer(options: {
  bootstrap: string;
  topic: string;
  seconds: number;
  inFlight: number;
  recordBytes: number;
  warmupMs?: number;
}): Promise<KafkaProducerRate> {
  const producer = new Producer<string, Buffer, string, string>({
    clientId: "taskflow-bench-raw",
    bootstrapBrokers: [options.bootstrap],
    idempotent: true,
    acks: ProduceAcks.ALL,
    partitioner: compatibilityPartitioner,
    serializers: {
      key: stringSerializer,
      headerKey: stringSerializer,
      headerValue: stringSerializer,
    },
  });
  producer.on("error", () => {});
  const value = sampleOrderRecord(options.recordBytes);
  const warmupMs = options.warmupMs ?? 500;
  try {
    const send = () =>
      producer.send({
        messages: [
          {
            topic: options.topic,
            key: randomUUID(),
            value,
            headers: { "Taskflow-Event-Id": randomUUID() },
          },
        ],
      });
    await send(); // connects, initialises the producer id, loads the metadata
    const started = performance.now();
    const from = started + warmupMs;
    const to = from + options.seconds * 1000;
    const latencies: number[] = [];
    let cpuAtFrom: NodeJS.CpuUsage | undefined;
    let cpu: NodeJS.CpuUsage | undefined;
    await Promise.all(
      Array.from({ length: options.inFlight }, async () => {
        for (;;) {
          const t = performance.now();
          if (t >= to) return;
          if (t >= from) cpuAtFrom ??= process.cpuUsage();
          await send();
          const end = performance.now();
          if (t >= from && end <= to) latencies.push(end - t);
          if (end >= to) cpu ??= process.cpuUsage(cpuAtFrom);
        }
      }),
    );
    const used = cpu ?? process.cpuUsage(cpuAtFrom);
    return {
      recordsPerSecond: latencies.length / options.seconds,
      send: summarize(latencies),
      inFlight: options.inFlight,
      recordBytes: value.length,
      seconds: options.seconds,
      clientCpuMsPerRecord: (used.user + used.system) / 1000 / latencies.length,
    };
  } finally {
    await producer.close().catch(() => {});
  }
}

export interface ProducerPerformanceRate {
  recordsPerSecond: number;
  mbPerSecond: number;
  avgLatencyMs: number;
  p50Ms: number;
  p99Ms: number;
  numRecords: number;
  recordSize: number;
  /** Wall time of the tool, JVM start included. */
  seconds: number;
  line: string;
}

/**
 * Kafka's own producer benchmark, org.apache.kafka.tools.ProducerPerformance, from the
 * kafka-tools jar deploy/kafka fetches (the Java client with its defaults: batching, linger,
 * idempotence), at full speed (--throughput -1) with acks=all.
 */
export async function producerPerformance(options: {
  bootstrap: string;
  topic: string;
  numRecords: number;
  recordSize: number;
  workDir: string;
}): Promise<ProducerPerformanceRate> {
  const libs = await ensureKafkaLibs();
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin/java") : "java";
  const started = performance.now();
  const output = await runToEnd(
    "ProducerPerformance",
    java,
    [
      "-Xmx256m",
      "-cp",
      path.join(libs, "*"),
      "org.apache.kafka.tools.ProducerPerformance",
      "--topic",
      options.topic,
      "--num-records",
      String(options.numRecords),
      "--record-size",
      String(options.recordSize),
      "--throughput",
      "-1",
      "--producer-props",
      `bootstrap.servers=${options.bootstrap}`,
      "acks=all",
    ],
    {
      env: process.env,
      cwd: options.workDir,
      logFile: path.join(options.workDir, "producer-performance.log"),
      timeoutMs: 300_000,
    },
  );
  const seconds = (performance.now() - started) / 1000;
  // The final line: "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max
  // latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th."
  const line = output.split("\n").find((l) => / ms 50th, /.test(l)) ?? "";
  const match =
    /([\d.]+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 50th.*?(\d+) ms 99th/.exec(
      line,
    );
  if (!match) throw new Error(`ProducerPerformance: no summary line in its output:\n${output}`);
  return {
    numRecords: Number(match[1]),
    recordsPerSecond: Number(match[2]),
    mbPerSecond: Number(match[3]),
    avgLatencyMs: Number(match[4]),
    p50Ms: Number(match[5]),
    p99Ms: Number(match[6]),
    recordSize: options.recordSize,
    seconds,
    line: line.trim(),
  };
}

/**
 * How consumer group `group` stands on `topic`, partition by partition: its committed offset
 * against the end offset, and which member (by the topics it subscribed to) holds the
 * partition. "p1 committed – of 70, held by a member subscribed to [tasks]" tells why records
 * were not counted.
 */
export async function describeGroupOnTopic(
  admin: Admin,
  group: string,
  topic: string,
): Promise<string> {
  const metadata = await admin.metadata({ topics: [topic] });
  const partitions = metadata.topics.get(topic)?.partitions.length ?? 0;
  const listed = await admin.listOffsets({
    topics: [
      {
        name: topic,
        partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
          partitionIndex,
          timestamp: ListOffsetTimestamps.LATEST,
        })),
      },
    ],
  });
  const ends = new Map((listed[0]?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
  const [offsets] = await admin.listConsumerGroupOffsets({ groups: [group] });
  const committed = new Map(
    (offsets?.topics.find((t) => t.name === topic)?.partitions ?? []).map((p) => [
      p.partitionIndex,
      p.committedOffset,
    ]),
  );
  const holders = new Map<number, string>();
  const described = (await admin.describeGroups({ groups: [group] })).get(group);
  for (const member of described?.members.values() ?? []) {
    const partitionsHeld = member.assignments?.get(topic)?.partitions ?? [];
    const subscribed = member.metadata?.topics?.join(",") ?? "?";
    for (const p of partitionsHeld) holders.set(p, `a member subscribed to [${subscribed}]`);
  }
  const parts: string[] = [];
  for (let p = 0; p < partitions; p++) {
    const c = committed.get(p);
    parts.push(
      `p${p} committed ${c === undefined || c < 0n ? "–" : String(c)} of ${String(ends.get(p) ?? "?")}, held by ${holders.get(p) ?? "no member"}`,
    );
  }
  return `group ${group} on ${topic} (${described?.state ?? "?"}, ${described?.members.size ?? 0} members): ${parts.join("; ")}`;
}

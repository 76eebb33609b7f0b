import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import {
  freePort,
  freshTaskflowBundle,
  type LocalKafkaOptions,
  requireServices,
  startLocalKafka,
  stopLocalKafka,
  waitFor,
} from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureKafkaLibs } from "../../../deploy/kafka/local-broker.ts";
import {
  analyticsSummary,
  expectedSummary,
  interleave,
  type OrdersStack,
  openOrdersStack,
  orderEnginesAvailable,
  orderWorkload,
  type PlacedOrder,
  placeOrders,
  repeated,
  tally,
} from "./orders-fixture.ts";

/**
 * Issue 9's fault: the Kafka broker dies (SIGKILL) while orders flow, and comes back on its
 * log directory. The broker is this test's own (its port, its directory), not the shared one.
 * Afterwards the analytics must equal the accepted orders to the cent — none counted twice,
 * none missing — and the `orders` topic, read with Kafka's own console consumer (not the
 * client the adapter uses), must hold every accepted order exactly once by key.
 */
const exec = promisify(execFile);

/** Java 17+ and Kafka's jars (cached, or fetched by Maven): their folder, false (skip), or the error (required). */
async function kafkaJarsStatus(): Promise<string | false | Error> {
  try {
    await exec(process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin/java") : "java", [
      "-version",
    ]);
    return await ensureKafkaLibs(libsOption());
  } catch (error) {
    if (requireServices) {
      return new Error(
        `a Kafka broker of the test's own is required (TASKFLOW_REQUIRE_SERVICES=1) but Java or Kafka's jars are unavailable: ${(error as Error).message}`,
      );
    }
    return false;
  }
}

const libsOption = (): LocalKafkaOptions =>
  process.env.TASKFLOW_KAFKA_LIBS ? { libsDir: process.env.TASKFLOW_KAFKA_LIBS } : {};

const base = await orderEnginesAvailable();
const jars = base ? await kafkaJarsStatus() : false;

const ORDERS = 2_000;
const INVALID = 200;

describe.skipIf(!base || jars === false)(
  "orders while the Kafka broker is SIGKILLed and restarted",
  () => {
    let broker: LocalKafkaOptions & { dataDir: string; port: number };
    let stack: OrdersStack | undefined;
    let dropBundle: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      if (jars instanceof Error) throw jars;
      const port = await freePort();
      let controllerPort = await freePort();
      while (controllerPort === port) controllerPort = await freePort();
      broker = {
        ...libsOption(),
        dataDir: await mkdtemp(path.join(tmpdir(), "taskflow-kafka-restart-")),
        port,
        controllerPort,
        heap: "256m",
      };
      const [undo] = await Promise.all([freshTaskflowBundle(), startLocalKafka(broker)]);
      dropBundle = undo;
      stack = await openOrdersStack("orders_kafka_restart", {
        streamUrl: `kafka://127.0.0.1:${port}`,
        roles: ["validator", "api", "relay", "analytics"],
      });
    }, 300_000);

    afterAll(async () => {
      await stack?.stop().catch(() => {});
      await stack?.cleanup();
      if (broker) {
        await stopLocalKafka({ ...broker, signal: "SIGKILL" }).catch(() => {});
        await rm(broker.dataDir, { recursive: true, force: true });
      }
      await dropBundle?.();
    }, 60_000);

    it("when the broker is SIGKILLed while 2,000 orders flow and started again on its log directory, then the analytics equal the accepted orders to the cent, and the orders topic holds each accepted order exactly once", async () => {
      const { customer, operator, sql } = stack as OrdersStack;
      const { valid, invalid } = orderWorkload({ valid: ORDERS - INVALID, invalid: INVALID }, 9);
      const mixed = interleave(valid, invalid);
      let answered = 0;
      const placing = placeOrders(
        customer.client,
        mixed.map((m) => m.order),
        {
          concurrency: 16,
          onAnswer: () => {
            answered++;
          },
        },
      );

      // Orders flow through the broker (the analytics have counted some) at full speed (a
      // quarter placed): the relay appends all the time, so the kill likely finds an append
      // in flight — stored by the broker, its answer never sent.
      await waitFor(
        async () => answered >= ORDERS / 4 && (await analyticsSummary(operator)).orders.count > 0,
        { timeoutMs: 60_000, intervalMs: 20, what: "orders flowing through the topic" },
      );
      const killedAt = answered;
      expect(await stopLocalKafka({ ...broker, signal: "SIGKILL" })).toBe(true);
      // A short outage while the API keeps accepting orders (the outbox holds them).
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const restarted = await startLocalKafka(broker);
      expect(restarted.alreadyRunning).toBe(false);

      const answers = await placing;
      // The kill came while orders were still being placed.
      expect(killedAt).toBeLessThan(ORDERS);
      const accepted = answers.filter((a) => a.status === 201).map((a) => a.body as PlacedOrder);
      const statuses = tally(answers.map((a) => a.status));
      expect(statuses, JSON.stringify(answers.find((a) => a.status >= 500)?.body)).toEqual({
        "201": ORDERS - INVALID,
        "422": INVALID,
      });
      const ids = accepted.map((o) => o.id);
      expect(repeated(ids)).toEqual({});

      // Every accepted order reaches the analytics, once.
      const want = expectedSummary(accepted);
      let counted = 0;
      await waitFor(
        async () => {
          counted = (await analyticsSummary(operator)).orders.count;
          return counted >= want.count;
        },
        { timeoutMs: 90_000, intervalMs: 500, what: `${want.count} orders in the analytics` },
      ).catch(async (error: Error) => {
        throw new Error(`${error.message} (${counted} counted)\n${await stack?.diagnose()}`);
      });
      await waitFor(
        async () =>
          (await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox")).rows[0]?.n ===
          0,
        { timeoutMs: 30_000, what: "an empty outbox" },
      );
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // room for a late duplicate
      const summary = await analyticsSummary(operator);
      expect(summary.orders.count).toBe(want.count);
      expect(summary.orders.revenue_cents).toEqual(want.revenue_cents);
      expect(summary.top_products).toEqual(want.top_products);

      // The topic itself, read from the beginning by Kafka's console consumer.
      const records = await readTopicWithConsoleConsumer(broker, "orders", ids.length + 1);
      const keys = records.map((r) => r.key);
      expect(repeated(keys)).toEqual({});
      expect(keys.sort()).toEqual([...ids].sort());
      // Each record is its order's event: the key is the order id the event names.
      expect(records.filter((r) => r.orderId !== r.key)).toEqual([]);
      expect(repeated(records.map((r) => r.eventId))).toEqual({});
    }, 400_000);
  },
);

/** Kafka 4's console consumer: one line per record, `key<TAB>value`; logs to stderr at WARN. */
async function readTopicWithConsoleConsumer(
  broker: LocalKafkaOptions & { dataDir: string; port: number },
  topic: string,
  maxMessages: number,
): Promise<{ key: string; eventId: string | undefined; orderId: string | undefined }[]> {
  const libs = await ensureKafkaLibs(broker);
  const log4j = path.join(broker.dataDir, "console-consumer-log4j2.properties");
  await writeFile(
    log4j,
    [
      "status = warn",
      "rootLogger.level = WARN",
      "rootLogger.appenderRef.stderr.ref = STDERR",
      "appender.stderr.type = Console",
      "appender.stderr.name = STDERR",
      "appender.stderr.target = SYSTEM_ERR",
      "appender.stderr.layout.type = PatternLayout",
      "appender.stderr.layout.pattern = %p %m%n",
      "",
    ].join("\n"),
  );
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin/java") : "java";
  const { stdout, stderr } = await exec(
    java,
    [
      "-Xmx256m",
      `-Dlog4j2.configurationFile=${log4j}`,
      "-cp",
      path.join(libs, "*"),
      "org.apache.kafka.tools.consumer.ConsoleConsumer",
      "--bootstrap-server",
      `127.0.0.1:${broker.port}`,
      "--topic",
      topic,
      "--from-beginning",
      // More than there should be: a duplicate is read, not cut off.
      "--max-messages",
      String(maxMessages),
      // Exits once nothing more came for this long.
      "--timeout-ms",
      "5000",
      "--formatter-property",
      "print.key=true",
      "--formatter-property",
      "key.separator=\t",
    ],
    { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 },
  );
  // One line per record (a key is an order's uuid, a value JSON); any other line is a bug here.
  const lines = stdout.split("\n").filter((line) => line.length > 0);
  const strange = lines.filter((line) => !/^[0-9a-f-]{36}\t\{/.test(line));
  expect(strange, stderr).toEqual([]);
  const records = lines.map((line) => {
    const tab = line.indexOf("\t");
    const key = line.slice(0, tab);
    const value = JSON.parse(line.slice(tab + 1)) as { id?: string; data?: { order_id?: string } };
    return { key, eventId: value.id, orderId: value.data?.order_id };
  });
  const processed = /Processed a total of (\d+) messages/.exec(stderr)?.[1];
  expect(Number(processed), stderr).toBe(records.length);
  return records;
}

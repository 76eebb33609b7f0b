import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import {
  createTestDatabase,
  deleteRabbitMqExchange,
  deleteRabbitMqQueue,
  engineAvailable,
  testEngines,
  uniqueName,
} from "@taskflow/testing";
import { afterAll } from "vitest";
import { createEmbeddedEventBus, createRabbitMqEventBus } from "../src/index.ts";
import { describeEventBusContract } from "./event-bus.contract.ts";

const handles: DatabaseHandle[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
  for (const cleanup of cleanups) await cleanup().catch(() => {});
});

describeEventBusContract("RabbitMQ (topic exchange)", async () => {
  if (!(await engineAvailable("rabbitmq"))) return undefined;
  const exchange = uniqueName("test.events");
  cleanups.push(() => deleteRabbitMqExchange(exchange));
  return {
    open: async () => createRabbitMqEventBus({ url: testEngines.amqpUrl, exchange }),
    queueName: () => {
      const name = uniqueName("test.subscriber");
      cleanups.push(() => deleteRabbitMqQueue(name));
      return name;
    },
  };
});

describeEventBusContract("the embedded bus (PGlite)", async () => {
  const database = await createDatabase({ dataDir: "memory://" });
  handles.push(database);
  await migrateUp(database.db);
  const exchange = uniqueName("events");
  return {
    open: async () => createEmbeddedEventBus({ database, exchange, pollMs: 100 }),
    queueName: () => uniqueName("subscriber"),
  };
});

describeEventBusContract("the embedded bus (PostgreSQL)", async () => {
  if (!(await engineAvailable("postgres"))) return undefined;
  const testDb = await createTestDatabase();
  cleanups.push(testDb.drop);
  const database = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 4 });
  handles.push(database);
  await migrateUp(database.db);
  const exchange = uniqueName("events");
  return {
    open: async () => createEmbeddedEventBus({ database, exchange, pollMs: 100 }),
    queueName: () => uniqueName("subscriber"),
  };
});

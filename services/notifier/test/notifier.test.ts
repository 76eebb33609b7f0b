import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import {
  createEmbeddedEventBus,
  createRabbitMqEventBus,
  type EventBus,
  eventEnvelope,
  JOB_QUEUE_DESTINATION,
} from "@taskflow/messaging";
import { createNotificationRepository, NOTIFICATIONS_CHANNEL } from "@taskflow/notifications";
import { createLogger, createMetrics } from "@taskflow/observability";
import { ORDER_CREATED, type OrderCreated } from "@taskflow/orders";
import {
  createTestDatabase,
  deleteRabbitMqExchange,
  deleteRabbitMqQueue,
  engineAvailable,
  testEngines,
  uniqueName,
  waitFor,
} from "@taskflow/testing";
import { uuidv7 } from "uuidv7";
import { afterAll, describe, expect, it } from "vitest";
import { createNotifier } from "../src/index.ts";

interface Engines {
  database: DatabaseHandle;
  bus: () => EventBus;
  cleanup(): Promise<void>;
}

const engines: Record<string, () => Promise<Engines | undefined>> = {
  "PGlite and the embedded bus": async () => {
    const database = await createDatabase({ dataDir: "memory://" });
    await migrateUp(database.db);
    const exchange = uniqueName("events");
    return {
      database,
      bus: () => createEmbeddedEventBus({ database, exchange, pollMs: 100 }),
      cleanup: () => database.close(),
    };
  },
  "PostgreSQL and RabbitMQ": async () => {
    if (!(await engineAvailable("postgres")) || !(await engineAvailable("rabbitmq")))
      return undefined;
    const testDb = await createTestDatabase("taskflow_notifier");
    const database = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 4 });
    await migrateUp(database.db);
    const exchange = uniqueName("test.events");
    return {
      database,
      bus: () => createRabbitMqEventBus({ url: testEngines.amqpUrl, exchange }),
      cleanup: async () => {
        await database.close();
        await testDb.drop();
        await deleteRabbitMqExchange(exchange).catch(() => {});
      },
    };
  },
};

const silent = createLogger({ level: "silent", service: "notifier-test" });

for (const [name, open] of Object.entries(engines)) {
  describe(`the notifier on ${name}`, async () => {
    const engine = await open();
    const queues: string[] = [];
    afterAll(async () => {
      await engine?.cleanup();
      for (const q of queues) await deleteRabbitMqQueue(q).catch(() => {});
    });

    async function userWithOrder() {
      const { db } = engine?.database ?? ({} as DatabaseHandle);
      const ownerId = uuidv7();
      await db
        .insertInto("users")
        .values({ id: ownerId, email: `${ownerId}@example.com`, name: "Ann", password_hash: "x" })
        .execute();
      const order: OrderCreated = {
        order_id: uuidv7(),
        owner_id: ownerId,
        items: [
          {
            sku: "KB-101",
            name: "Keyboard",
            quantity: 2,
            unit_price_cents: 7990,
            line_total_cents: 15980,
          },
        ],
        total_cents: 15980,
        currency: "EUR",
        created_at: new Date().toISOString(),
      };
      return { ownerId, order, event: eventEnvelope(ORDER_CREATED, order) };
    }

    it.skipIf(!engine)(
      "makes one notification, one confirmation email job and one live notice per event, however often it comes",
      async () => {
        if (!engine) return;
        const { database } = engine;
        const bus = engine.bus();
        const queue = uniqueName("test.notifier");
        queues.push(queue);
        const heard: string[] = [];
        const unlisten = await database.listen(NOTIFICATIONS_CHANNEL, (p) => heard.push(p));
        const notifier = createNotifier({
          bus,
          notifications: createNotificationRepository(database.db),
          logger: silent,
          metrics: createMetrics("notifier-test"),
          queue,
        });
        await notifier.start();
        const { ownerId, order, event } = await userWithOrder();
        // The relay publishes at least once: the same event twice, and an unrelated key.
        await bus.publish([
          { id: event.id, routingKey: ORDER_CREATED, body: event },
          { id: event.id, routingKey: ORDER_CREATED, body: event },
          { id: "other", routingKey: "task.done", body: {} },
        ]);
        await waitFor(() => notifier.stats.processed === 2, { what: "both deliveries handled" });
        const made = await database.db
          .selectFrom("notifications")
          .selectAll()
          .where("owner_id", "=", ownerId)
          .execute();
        expect(made).toHaveLength(1);
        expect(made[0]).toMatchObject({
          event_id: event.id,
          kind: "order.confirmed",
          body: "2 items, 159.80 EUR",
          data: { order_id: order.order_id, total_cents: 15980 },
          read_at: null,
        });
        const jobs = await database.db
          .selectFrom("outbox")
          .select("payload")
          .where("destination", "=", JOB_QUEUE_DESTINATION)
          .execute();
        const confirmations = jobs.filter(
          (j) => (j.payload as { data?: { order_id?: string } }).data?.order_id === order.order_id,
        );
        expect(confirmations).toHaveLength(1);
        expect(confirmations[0]?.payload).toMatchObject({
          name: "email.order-confirmation",
          jobId: `email.order-confirmation.${order.order_id}`,
          data: { to: `${ownerId}@example.com`, name: "Ann", total_cents: 15980 },
        });
        await waitFor(() => heard.length >= 1, { what: "the live notice" });
        const told = heard.flatMap((h) => JSON.parse(h) as { owner_id: string }[]);
        expect(told.map((n) => n.owner_id)).toEqual([ownerId]);
        await notifier.stop(5_000);
        await unlisten();
        await bus.close();
      },
    );

    it.skipIf(!engine)("dead-letters what is not an order.created event", async () => {
      if (!engine) return;
      const bus = engine.bus();
      const queue = uniqueName("test.notifier");
      queues.push(queue);
      const notifier = createNotifier({
        bus,
        notifications: createNotificationRepository(engine.database.db),
        logger: silent,
        metrics: createMetrics("notifier-test"),
        queue,
      });
      await notifier.start();
      await bus.publish([{ id: "junk", routingKey: ORDER_CREATED, body: { hello: "world" } }]);
      await waitFor(() => notifier.stats.failed === 1, { what: "the junk refused" });
      const subscriber = await bus.subscribe(queue, [ORDER_CREATED]);
      await waitFor(async () => (await subscriber.stats()).deadLettered === 1, {
        what: "the junk in the dead letters",
      });
      await notifier.stop(5_000);
      await bus.close();
    });
  });
}

import { waitFor } from "@taskflow/testing";
import { afterEach, describe, expect, it } from "vitest";
import type { Delivery, EventBus } from "../src/index.ts";

/**
 * What every EventBus adapter promises, run against each engine. `open()` returns a bus on
 * a fresh exchange; `queueName()` a fresh subscriber queue name.
 */
export interface EventBusFixture {
  open(): Promise<EventBus>;
  queueName(): string;
}

export function describeEventBusContract(
  engine: string,
  fixture: () => Promise<EventBusFixture | undefined>,
) {
  describe(`EventBus contract on ${engine}`, async () => {
    const f = await fixture();
    const opened: EventBus[] = [];
    const open = async () => {
      if (!f) throw new Error("fixture unavailable");
      const bus = await f.open();
      opened.push(bus);
      return bus;
    };
    const queueName = () => {
      if (!f) throw new Error("fixture unavailable");
      return f.queueName();
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((b) => b.close().catch(() => {})));
    });

    async function received(bus: EventBus, queue: string, patterns: string[]) {
      const subscriber = await bus.subscribe(queue, patterns);
      const deliveries: Delivery[] = [];
      await subscriber.consume(
        (d) => {
          deliveries.push(d);
          d.ack();
        },
        { prefetch: 50 },
      );
      return deliveries;
    }

    it.skipIf(!f)(
      "copies each message into every queue bound for its routing key, and only those",
      async () => {
        const bus = await open();
        const orders = await received(bus, queueName(), ["order.*"]);
        const everything = await received(bus, queueName(), ["#"]);
        const taskDone = await received(bus, queueName(), ["task.done"]);
        await bus.publish([
          { id: "e1", routingKey: "order.created", body: { n: 1 }, headers: { traceparent: "t1" } },
          { id: "e2", routingKey: "task.done", body: { n: 2 } },
          { id: "e3", routingKey: "order.created.eu", body: { n: 3 } },
          { id: "e4", routingKey: "order.cancelled", body: { n: 4 } },
        ]);
        await waitFor(() => everything.length === 4, { what: "every message on #" });
        await waitFor(() => orders.length === 2 && taskDone.length === 1, {
          what: "the matching ones",
        });
        const ids = (list: Delivery[]) => list.map((d) => d.message.id).sort();
        expect(ids(orders)).toEqual(["e1", "e4"]);
        expect(ids(taskDone)).toEqual(["e2"]);
        const first = orders.find((d) => d.message.id === "e1");
        expect(first?.message.body).toEqual({ n: 1 });
        expect(first?.message.headers?.traceparent).toBe("t1");
        // Nothing more arrives later.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(orders).toHaveLength(2);
      },
    );

    it.skipIf(!f)(
      "keeps a subscriber's messages while it is away, and drops what no queue is bound for",
      async () => {
        const bus = await open();
        await bus.publish([{ id: "early", routingKey: "order.created", body: {} }]);
        const queue = queueName();
        // Bound, then away: what is published meanwhile waits in its queue.
        await bus.subscribe(queue, ["order.created"]);
        await bus.publish([{ id: "while-away", routingKey: "order.created", body: {} }]);
        const later = await open();
        const deliveries = await received(later, queue, ["order.created"]);
        await waitFor(() => deliveries.length === 1, { what: "the message kept for it" });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(deliveries.map((d) => d.message.id)).toEqual(["while-away"]);
      },
    );
  });
}

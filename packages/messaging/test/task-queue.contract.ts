import { waitFor } from "@taskflow/testing";
import { afterEach, describe, expect, it } from "vitest";
import type { Delivery, QueueMessage, TaskQueue } from "../src/index.ts";

/**
 * What every TaskQueue adapter promises, run against each real engine. `open(name)` returns
 * a fresh adapter instance on the queue `name` (a second call: a second process on it).
 */
export interface TaskQueueFixture {
  open(queue: string): Promise<TaskQueue>;
  newQueueName(): string;
}

function collect(queue: TaskQueue, prefetch = 50) {
  const deliveries: Delivery[] = [];
  const subscription = queue.consume((d) => deliveries.push(d), { prefetch });
  return { deliveries, subscription };
}

export function describeTaskQueueContract(
  engine: string,
  fixture: () => Promise<TaskQueueFixture | undefined>,
) {
  describe(`TaskQueue contract on ${engine}`, async () => {
    const f = await fixture();
    const opened: TaskQueue[] = [];
    const newQueueName = () => {
      if (!f) throw new Error("fixture unavailable");
      return f.newQueueName();
    };
    const open = async (name: string) => {
      if (!f) throw new Error("fixture unavailable");
      const q = await f.open(name);
      opened.push(q);
      return q;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((q) => q.close().catch(() => {})));
    });

    it.skipIf(!f)("delivers each published message with its id, body and headers", async () => {
      const name = newQueueName();
      const queue = await open(name);
      const sent: QueueMessage[] = Array.from({ length: 25 }, (_, i) => ({
        id: `m-${i}`,
        body: { n: i, nested: { ok: true } },
        headers: { traceparent: `t-${i}` },
      }));
      await queue.publish(sent);
      const { deliveries } = collect(queue);
      await waitFor(() => deliveries.length === 25, { what: "25 deliveries" });
      const got = deliveries
        .map((d) => d.message)
        .sort((a, b) => (a.body as { n: number }).n - (b.body as { n: number }).n);
      expect(got.map((m) => m.id)).toEqual(sent.map((m) => m.id));
      expect(got[3]?.body).toEqual({ n: 3, nested: { ok: true } });
      expect(got[3]?.headers?.traceparent).toBe("t-3");
      expect(deliveries.every((d) => !d.redelivered)).toBe(true);
      for (const d of deliveries) d.ack();
    });

    it.skipIf(!f)("delivers waiting messages most urgent first, then oldest first", async () => {
      const queue = await open(newQueueName());
      const sent: QueueMessage[] = [
        { id: "p9-a", body: "p9-a", priority: 9 },
        { id: "none", body: "none" },
        { id: "p0-a", body: "p0-a", priority: 0 },
        { id: "p3", body: "p3", priority: 3 },
        { id: "p0-b", body: "p0-b", priority: 0 },
        { id: "p9-b", body: "p9-b", priority: 9 },
      ];
      // One by one, so "oldest" is well defined on every engine.
      for (const message of sent) await queue.publish([message]);
      await waitFor(async () => (await queue.stats()).waiting === sent.length, {
        what: "every message waiting",
      });
      // One at a time: each delivery is chosen among all that wait.
      const { deliveries } = collect(queue, 1);
      let acked = 0;
      await waitFor(
        () => {
          const next = deliveries[acked];
          if (next) {
            next.ack();
            acked++;
          }
          return acked === sent.length;
        },
        { what: "every message delivered" },
      );
      expect(deliveries.map((d) => d.message.id)).toEqual([
        ...["p0-a", "p0-b", "p3", "none", "p9-a", "p9-b"],
      ]);
      expect(deliveries.map((d) => d.message.priority ?? 5)).toEqual([0, 0, 3, 5, 9, 9]);
    });

    it.skipIf(!f)("forgets acknowledged messages", async () => {
      const name = newQueueName();
      const queue = await open(name);
      await queue.publish([
        { id: "a", body: 1 },
        { id: "b", body: 2 },
      ]);
      const { deliveries, subscription } = collect(queue);
      await waitFor(() => deliveries.length === 2);
      for (const d of deliveries) d.ack();
      await (await subscription).stop();
      await waitFor(async () => (await queue.stats()).waiting === 0, { what: "an empty queue" });
      const again = await open(name);
      const second = collect(again);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(second.deliveries).toHaveLength(0);
    });

    it.skipIf(!f)(
      "keeps exactly the unacknowledged ones when acks come out of order around one still held",
      async () => {
        const name = newQueueName();
        const first = await open(name);
        await first.publish(["a", "b", "c", "d", "e"].map((id) => ({ id, body: id })));
        const { deliveries } = collect(first);
        await waitFor(() => deliveries.length === 5);
        const byId = new Map(deliveries.map((d) => [d.message.id, d]));
        for (const id of ["c", "a", "e"]) byId.get(id)?.ack();
        await new Promise((resolve) => setTimeout(resolve, 50));
        byId.get("b")?.ack();
        await new Promise((resolve) => setTimeout(resolve, 50));
        await first.close(); // "d" was never answered
        const second = await open(name);
        const again = collect(second);
        const redelivery = await waitFor(() => again.deliveries[0], { what: "the redelivery" });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(again.deliveries.map((d) => d.message.id)).toEqual(["d"]);
        expect(redelivery.redelivered).toBe(true);
        redelivery.ack();
      },
    );

    it.skipIf(!f)("redelivers, flagged, what a consumer held when it went away", async () => {
      const name = newQueueName();
      const first = await open(name);
      await first.publish([{ id: "held", body: { x: 1 } }]);
      const { deliveries } = collect(first);
      await waitFor(() => deliveries.length === 1);
      await first.close(); // dies without an answer
      const second = await open(name);
      const again = collect(second);
      const redelivery = await waitFor(() => again.deliveries[0], { what: "the redelivery" });
      expect(redelivery.message.id).toBe("held");
      expect(redelivery.redelivered).toBe(true);
      redelivery.ack();
    });

    it.skipIf(!f)("delivers a requeued message again", async () => {
      const name = newQueueName();
      const queue = await open(name);
      await queue.publish([{ id: "again", body: "x" }]);
      const { deliveries } = collect(queue);
      await waitFor(() => deliveries.length === 1);
      deliveries[0]?.requeue();
      await waitFor(() => deliveries.length === 2, { what: "the second delivery" });
      expect(deliveries[1]?.message.id).toBe("again");
      deliveries[1]?.ack();
    });

    it.skipIf(!f)("moves a dead-lettered message to the dead-letter queue", async () => {
      const name = newQueueName();
      const queue = await open(name);
      await queue.publish([
        { id: "poison", body: { bad: true } },
        { id: "fine", body: {} },
      ]);
      const { deliveries } = collect(queue);
      await waitFor(() => deliveries.length === 2);
      for (const d of deliveries) {
        if (d.message.id === "poison") d.deadLetter("handler gave up");
        else d.ack();
      }
      await waitFor(async () => (await queue.stats()).deadLettered === 1, {
        what: "one dead letter",
      });
      const dead = await queue.peekDeadLetters(10);
      expect(dead.map((m) => m.id)).toEqual(["poison"]);
      expect(dead[0]?.body).toEqual({ bad: true });
      expect((await queue.stats()).waiting).toBe(0);
    });

    it.skipIf(!f)("removes dead letters by id, and only dead ones", async () => {
      const name = newQueueName();
      const queue = await open(name);
      await queue.publish([
        { id: "redriven", body: { v: 1 } },
        { id: "kept", body: { v: 1 }, headers: { reason: "still broken" } },
      ]);
      const first = collect(queue);
      await waitFor(() => first.deliveries.length === 2);
      for (const d of first.deliveries) d.deadLetter("handler gave up");
      await waitFor(async () => (await queue.stats()).deadLettered === 2, {
        what: "two dead letters",
      });
      await (await first.subscription).stop();
      // A redrive: a fresh message under the same id (ids are stable across re-publishes).
      await queue.publish([{ id: "redriven", body: { v: 2 } }]);

      expect(await queue.removeDeadLetters(["redriven", "no-such-message"])).toBe(1);
      const dead = await queue.peekDeadLetters(10);
      expect(dead.map((m) => m.id)).toEqual(["kept"]);
      expect(dead[0]?.body).toEqual({ v: 1 });
      expect(dead[0]?.headers?.reason).toBe("still broken");
      await waitFor(async () => (await queue.stats()).deadLettered === 1, {
        what: "one dead letter left",
      });
      expect(await queue.removeDeadLetters(["redriven", "no-such-message"])).toBe(0);
      expect(await queue.removeDeadLetters([])).toBe(0);

      // The work queue's message with that id is untouched.
      const again = await open(name);
      const second = collect(again);
      const fresh = await waitFor(() => second.deliveries[0], { what: "the redriven message" });
      expect(fresh.message).toMatchObject({ id: "redriven", body: { v: 2 } });
      fresh.ack();
      // RabbitMQ counts dead letters given back by a removal a moment later.
      await waitFor(async () => (await queue.stats()).deadLettered === 1, {
        what: "the kept dead letter",
      });
    });

    it.skipIf(!f)("removes every dead letter under an id dead-lettered twice", async () => {
      const name = newQueueName();
      const queue = await open(name);
      await queue.publish([
        { id: "twice", body: 1 },
        { id: "twice", body: 2 },
        { id: "other", body: 3 },
      ]);
      const { deliveries } = collect(queue);
      await waitFor(() => deliveries.length === 3);
      for (const d of deliveries) d.deadLetter("gave up");
      await waitFor(async () => (await queue.stats()).deadLettered === 3, {
        what: "three dead letters",
      });
      expect(await queue.removeDeadLetters(["twice"])).toBe(2);
      expect((await queue.peekDeadLetters(10)).map((m) => m.id)).toEqual(["other"]);
      await waitFor(async () => (await queue.stats()).deadLettered === 1, {
        what: "one dead letter left",
      });
    });

    it.skipIf(!f)("purges every dead letter, and only dead letters, of its own queue", async () => {
      const name = newQueueName();
      const queue = await open(name);
      const neighbour = await open(newQueueName());
      await queue.publish([
        { id: "dead-1", body: 1 },
        { id: "dead-2", body: 2 },
        { id: "dead-2", body: 3 },
      ]);
      await neighbour.publish([{ id: "their-dead", body: 4 }]);
      const mine = collect(queue);
      const theirs = collect(neighbour);
      await waitFor(() => mine.deliveries.length === 3 && theirs.deliveries.length === 1);
      for (const d of [...mine.deliveries, ...theirs.deliveries]) d.deadLetter("gave up");
      await waitFor(async () => (await queue.stats()).deadLettered === 3, {
        what: "three dead letters",
      });
      await waitFor(async () => (await neighbour.stats()).deadLettered === 1, {
        what: "the other queue's dead letter",
      });
      await (await mine.subscription).stop();
      // Waiting work is not a dead letter: a purge leaves it.
      await queue.publish([{ id: "waiting", body: { still: "wanted" } }]);
      await waitFor(async () => (await queue.stats()).waiting === 1, { what: "one waiting" });

      expect(await queue.purgeDeadLetters()).toBe(3);
      expect(await queue.peekDeadLetters(10)).toEqual([]);
      await waitFor(async () => (await queue.stats()).deadLettered === 0, {
        what: "an empty dead-letter queue",
      });
      expect(await queue.purgeDeadLetters()).toBe(0);
      // Another queue's dead letters are its own.
      expect((await neighbour.peekDeadLetters(10)).map((m) => m.id)).toEqual(["their-dead"]);
      await waitFor(async () => (await neighbour.stats()).deadLettered === 1, {
        what: "the other queue's dead letter, still there",
      });

      const again = await open(name);
      const next = collect(again);
      const waiting = await waitFor(() => next.deliveries[0], { what: "the waiting message" });
      expect(waiting.message).toMatchObject({ id: "waiting", body: { still: "wanted" } });
      waiting.ack();
      // New dead letters after a purge are kept as ever.
      await again.publish([{ id: "after", body: 5 }]);
      const later = await waitFor(() => next.deliveries.find((d) => d.message.id === "after"), {
        what: "the message published after the purge",
      });
      later.deadLetter("gave up");
      await waitFor(async () => (await queue.stats()).deadLettered === 1, {
        what: "the new dead letter",
      });
      expect((await queue.peekDeadLetters(10)).map((m) => m.id)).toEqual(["after"]);
    });

    it.skipIf(!f)("never hands out more than prefetch unsettled messages", async () => {
      const name = newQueueName();
      const queue = await open(name);
      await queue.publish(Array.from({ length: 30 }, (_, i) => ({ id: `p-${i}`, body: i })));
      const { deliveries } = collect(queue, 5);
      await waitFor(() => deliveries.length === 5);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(deliveries).toHaveLength(5);
      for (const d of deliveries.slice(0, 5)) d.ack();
      await waitFor(() => deliveries.length === 10, { what: "the next five" });
      for (const d of deliveries.slice(5)) d.ack();
    });

    it.skipIf(!f)("carries a thousand messages published at once", async () => {
      const name = newQueueName();
      const queue = await open(name);
      await queue.publish(
        Array.from({ length: 1_000 }, (_, i) => ({ id: `bulk-${i}`, body: { i } })),
      );
      const seen = new Set<string>();
      await queue.consume(
        (d) => {
          seen.add(d.message.id);
          d.ack();
        },
        { prefetch: 200 },
      );
      await waitFor(() => seen.size === 1_000, { what: "1,000 distinct deliveries" });
    });
  });
}

import type { Socket } from "node:net";
import { engineAvailable, testEngines, uniqueName } from "@taskflow/testing";
import amqplib from "amqplib";
import { describe, expect, it } from "vitest";
import { coalesceFrameWrites } from "../src/rabbitmq/coalesce-writes.ts";

/** Publishes 200 messages in one turn and counts the system-call-level writes to the socket. */
async function socketWritesFor200Publishes(coalesce: boolean): Promise<number> {
  const model = await amqplib.connect(testEngines.amqpUrl);
  try {
    if (coalesce) expect(coalesceFrameWrites(model)).toBe(true);
    const socket = (model as unknown as { connection: { stream: Socket } }).connection.stream;
    let writes = 0;
    // Node's net.Socket funnels every write or writev to the kernel through _writeGeneric.
    const internals = socket as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
    const original = internals._writeGeneric;
    internals._writeGeneric = function counted(this: unknown, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
    const channel = await model.createConfirmChannel();
    const queue = uniqueName("test.coalesce");
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    writes = 0;
    for (let i = 0; i < 200; i++) channel.sendToQueue(queue, Buffer.from(`message ${i}`));
    await channel.waitForConfirms();
    const counted = writes;
    await channel.deleteQueue(queue);
    await channel.close();
    return counted;
  } finally {
    await model.close();
  }
}

describe("coalescing amqplib's frame writes", async () => {
  const available = await engineAvailable("rabbitmq");

  it.skipIf(!available)(
    "sends the frames one turn produced in a few writes instead of one per message",
    async () => {
      const plain = await socketWritesFor200Publishes(false);
      const coalesced = await socketWritesFor200Publishes(true);
      expect(plain).toBeGreaterThanOrEqual(200);
      expect(coalesced).toBeLessThan(20);
    },
  );

  it("leaves anything that is not an amqplib connection alone", () => {
    expect(coalesceFrameWrites({})).toBe(false);
    expect(coalesceFrameWrites(undefined)).toBe(false);
  });
});

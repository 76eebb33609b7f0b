import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { engineAvailable, testEngines, uniqueName } from "@taskflow/testing";
import { afterAll } from "vitest";
import { createNatsEventStream } from "../src/nats/nats.event-stream.ts";
import { describeEventStreamContract } from "./event-stream.contract.ts";

// Every stream of this run (topics and leases) is named after one prefix, deleted afterwards.
const prefix = uniqueName("tftest").replaceAll(".", "_");

afterAll(async () => {
  const nc = await connect({ servers: testEngines.natsUrl }).catch(() => undefined);
  if (!nc) return; // NATS was not there: nothing was created
  try {
    const jsm = await jetstreamManager(nc);
    const ours: string[] = [];
    for await (const name of jsm.streams.names())
      if (name.startsWith(`${prefix}_`)) ours.push(name);
    for (const name of ours) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
});

describeEventStreamContract("NATS JetStream", async () => {
  if (!(await engineAvailable("nats"))) return undefined;
  return {
    newTopic: () => uniqueName("events"),
    // A short lease (ack wait: two thirds of it) stands in for "the consumer's process died".
    open: async () => createNatsEventStream({ url: testEngines.natsUrl, prefix, leaseMs: 3_000 }),
  };
});

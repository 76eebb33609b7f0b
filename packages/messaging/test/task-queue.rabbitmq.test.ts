import { deleteRabbitMqQueue, engineAvailable, testEngines, uniqueName } from "@taskflow/testing";
import { afterAll } from "vitest";
import { createRabbitMqTaskQueue } from "../src/index.ts";
import { describeTaskQueueContract } from "./task-queue.contract.ts";

const used = new Set<string>();
afterAll(async () => {
  for (const name of used) await deleteRabbitMqQueue(name);
});

describeTaskQueueContract("RabbitMQ", async () => {
  if (!(await engineAvailable("rabbitmq"))) return undefined;
  return {
    newQueueName: () => {
      const name = uniqueName("test.tasks");
      used.add(name);
      return name;
    },
    open: async (queue) => createRabbitMqTaskQueue({ url: testEngines.amqpUrl, queue }),
  };
});

import amqplib from "amqplib";
import { testEngines } from "./index.ts";

/** Deletes a task queue's topology (`name`, `name.dead`, `name.dlx`) after a test. */
export async function deleteRabbitMqQueue(name: string, url = testEngines.amqpUrl): Promise<void> {
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.deleteQueue(name);
    await channel.deleteQueue(`${name}.dead`);
    await channel.deleteExchange(`${name}.dlx`);
    await channel.close();
  } finally {
    await connection.close();
  }
}

/** Deletes a test's exchange (its bound queues are deleted with deleteRabbitMqQueue). */
export async function deleteRabbitMqExchange(
  name: string,
  url = testEngines.amqpUrl,
): Promise<void> {
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.deleteExchange(name);
    await channel.close();
  } finally {
    await connection.close();
  }
}

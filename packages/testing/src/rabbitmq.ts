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

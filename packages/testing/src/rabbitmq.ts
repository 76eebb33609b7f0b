import { execFile } from "node:child_process";
import { promisify } from "node:util";
import amqplib from "amqplib";
import { testEngines, uniqueName } from "./index.ts";

const run = promisify(execFile);

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

export interface RabbitMqSite {
  /** TASKFLOW_AMQP_URL for the run. */
  url: string;
  /** Set when the run has no vhost of its own, and why. */
  note?: string;
  cleanup(): Promise<void>;
}

/**
 * A RabbitMQ virtual host of the run's own (rabbitmqctl): the event bus's exchange and the
 * notifier's queue have fixed names, which two runs on one vhost would share (a notifier
 * acknowledges, and drops, the orders its database does not know). Without rabbitmqctl, the
 * default vhost, and `fallback` cleans up what the run can still name (its task queue).
 */
export async function openRabbitMqVhost(
  prefix: string,
  fallback: () => Promise<void> = async () => {},
): Promise<RabbitMqSite> {
  const vhost = uniqueName(prefix);
  const user = decodeURIComponent(new URL(testEngines.amqpUrl).username || "guest");
  const rabbitmqctl = (args: string[]) => run("rabbitmqctl", ["-q", ...args], { timeout: 60_000 });
  try {
    await rabbitmqctl(["add_vhost", vhost]);
    await rabbitmqctl(["set_permissions", "-p", vhost, user, ".*", ".*", ".*"]);
  } catch (error) {
    await rabbitmqctl(["delete_vhost", vhost]).catch(() => {});
    return {
      url: testEngines.amqpUrl,
      note: `no RabbitMQ vhost of its own (${String(error).split("\n")[0]}): exchange taskflow.events and queue notifier are shared`,
      cleanup: fallback,
    };
  }
  const url = new URL(testEngines.amqpUrl);
  url.pathname = `/${encodeURIComponent(vhost)}`;
  return {
    url: url.toString(),
    cleanup: () => rabbitmqctl(["delete_vhost", vhost]).then(() => {}),
  };
}

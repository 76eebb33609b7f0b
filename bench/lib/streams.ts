/**
 * The event stream engines a run can put TaskFlow's `orders` and `tasks` topics on, and what a
 * run leaves behind there. The roles name their topics (`orders`, `tasks`), their consumer
 * group (`analytics`) and, on Redis and NATS, their key / subject prefix (`taskflow`) themselves,
 * with no setting to change them: a run cannot use names of its own. So a site notes what
 * existed before the run, refuses to run beside another analytics consumer of the same group
 * (it would take half the partitions, and the count), and at the end removes only what the run
 * created.
 */

import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { withRedis } from "./engines.ts";
import { kafkaAdmin } from "./kafka.ts";
import { errorMessage, sleep, withTimeout } from "./util.ts";

export type StreamKind = "embedded" | "redis" | "nats" | "kafka";
export const STREAM_KINDS: readonly StreamKind[] = ["embedded", "redis", "nats", "kafka"];

export interface StreamUrls {
  /** host:port of a Kafka broker. */
  kafka: string;
  redis: string;
  nats: string;
}

/** TASKFLOW_STREAM_URL for a kind (undefined: the embedded stream in the run's database). */
export function streamUrl(kind: StreamKind, urls: StreamUrls): string | undefined {
  switch (kind) {
    case "kafka":
      return `kafka://${urls.kafka}`;
    case "redis":
      return urls.redis;
    case "nats":
      return urls.nats;
    default:
      return undefined;
  }
}

/** "Kafka at …", or throws when the engine does not answer. */
export async function checkStream(kind: StreamKind, urls: StreamUrls): Promise<string> {
  switch (kind) {
    case "kafka": {
      const admin = kafkaAdmin(urls.kafka);
      try {
        const metadata = await withTimeout(admin.metadata({ topics: [] }), 5_000, "Kafka metadata");
        return `Kafka at ${urls.kafka} (${metadata.brokers.size} broker${metadata.brokers.size === 1 ? "" : "s"})`;
      } finally {
        await admin.close().catch(() => {});
      }
    }
    case "redis":
      return withRedis(urls.redis, async (redis) => {
        const info = await redis.info("server");
        return `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? "?"} streams`;
      });
    case "nats": {
      const nc = await withTimeout(connect({ servers: urls.nats.split(",") }), 5_000, "NATS");
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.getAccountInfo();
        return `NATS ${nc.info?.version ?? "?"} JetStream (${info.streams} streams)`;
      } finally {
        await nc.close();
      }
    }
    default:
      return "embedded (the run's PostgreSQL database)";
  }
}

export interface StreamSite {
  kind: StreamKind;
  /** What existed before the run (left alone at the end), for the report; "" if nothing. */
  existing: string;
  /** Removes what the run created (after the roles stopped); answers what it removed. */
  cleanup(): Promise<string>;
}

/**
 * Notes which of `topics` (and group `group`) exist on the engine; fails if a consumer of
 * `group` is active there (another analytics role would share the topics' records with ours).
 */
export async function openStreamSite(
  kind: StreamKind,
  urls: StreamUrls,
  topics: readonly string[],
  group: string,
): Promise<StreamSite> {
  switch (kind) {
    case "kafka":
      return kafkaSite(urls.kafka, topics, group);
    case "redis":
      return redisSite(urls.redis, topics, group);
    case "nats":
      return natsSite(urls.nats, topics, group);
    default:
      // In the run's own database, dropped with it.
      return { kind, existing: "", cleanup: async () => "" };
  }
}

async function kafkaSite(bootstrap: string, topics: readonly string[], group: string) {
  const admin = kafkaAdmin(bootstrap);
  try {
    const topicsBefore = new Set(await admin.listTopics());
    const groupsBefore = new Set((await admin.listGroups()).keys());
    if (groupsBefore.has(group)) {
      const members = (await admin.describeGroups({ groups: [group] })).get(group)?.members.size;
      if (members) {
        throw new Error(
          `Kafka consumer group "${group}" has ${members} member(s) at ${bootstrap}: another analytics role is running on this broker (it would take part of the records); stop it first`,
        );
      }
    }
    const existing = [
      ...topics.filter((t) => topicsBefore.has(t)).map((t) => `topic ${t}`),
      ...(groupsBefore.has(group) ? [`group ${group}`] : []),
    ].join(", ");
    return {
      kind: "kafka" as const,
      existing,
      async cleanup() {
        const a = kafkaAdmin(bootstrap);
        const removed: string[] = [];
        try {
          if (!groupsBefore.has(group)) {
            // A stopped member leaves at once; one that was killed, after its session (10 s).
            const deadline = Date.now() + 15_000;
            for (;;) {
              const described = (await a.describeGroups({ groups: [group] })).get(group);
              if (!described || described.members.size === 0) break;
              if (Date.now() > deadline) throw new Error(`group ${group} still has members`);
              await sleep(250);
            }
            await a.deleteGroups({ groups: [group] }).then(
              () => removed.push(`group ${group}`),
              (error: unknown) => {
                if (!/GROUP_ID_NOT_FOUND|does not exist/i.test(errorMessage(error))) throw error;
              },
            );
          }
          const made = topics.filter((t) => !topicsBefore.has(t));
          // Someone else's new consumer group may be reading them now: leave them then.
          const newGroups = [...(await a.listGroups()).keys()].filter(
            (g) => !groupsBefore.has(g) && g !== group,
          );
          if (made.length && newGroups.length === 0) {
            const present = new Set(await a.listTopics());
            const toDelete = made.filter((t) => present.has(t));
            if (toDelete.length) {
              await a.deleteTopics({ topics: toDelete });
              removed.push(...toDelete.map((t) => `topic ${t}`));
            }
          } else if (made.length) {
            removed.push(`(kept topics ${made.join(", ")}: new groups ${newGroups.join(", ")})`);
          }
        } finally {
          await a.close().catch(() => {});
        }
        return removed.join(", ");
      },
    };
  } finally {
    await admin.close().catch(() => {});
  }
}

/** The keys of TaskFlow's Redis event stream (its default prefix, which the roles keep). */
const REDIS_PREFIX = "taskflow:stream";

async function redisSite(url: string, topics: readonly string[], group: string) {
  const topicsKey = `${REDIS_PREFIX}:topics`;
  const streamKey = (t: string) => `${REDIS_PREFIX}:topic:${t}`;
  const leaseKey = (t: string) => `${REDIS_PREFIX}:lease:${t}:${group}`;
  const before = await withRedis(url, async (redis) => {
    const state = new Map<string, { stream: boolean; field: boolean; group: boolean }>();
    for (const t of topics) {
      if (await redis.exists(leaseKey(t))) {
        throw new Error(
          `Redis key ${leaseKey(t)} is held: another analytics role is reading "${t}" on this Redis; stop it first`,
        );
      }
      const stream = (await redis.exists(streamKey(t))) === 1;
      const field = (await redis.hexists(topicsKey, t)) === 1;
      let hasGroup = false;
      if (stream) {
        const groups = (await redis.xinfo("GROUPS", streamKey(t))) as unknown[][];
        hasGroup = groups.some((g) => g[1] === group);
      }
      state.set(t, { stream, field, group: hasGroup });
    }
    return state;
  });
  const existing = topics
    .flatMap((t) => {
      const s = before.get(t);
      return s?.stream ? [`stream ${streamKey(t)}${s.group ? ` (group ${group})` : ""}`] : [];
    })
    .join(", ");
  return {
    kind: "redis" as const,
    existing,
    cleanup: () =>
      withRedis(url, async (redis) => {
        const removed: string[] = [];
        for (const t of topics) {
          const s = before.get(t);
          if (!s?.stream) {
            if (await redis.del(streamKey(t), leaseKey(t))) removed.push(streamKey(t));
          } else if (!s.group) {
            await redis.xgroup("DESTROY", streamKey(t), group).catch(() => 0);
            removed.push(`group ${group} of ${streamKey(t)}`);
          }
          if (!s?.field && (await redis.hdel(topicsKey, t))) removed.push(`${topicsKey} ${t}`);
        }
        return removed.join(", ");
      }),
  };
}

/** NATS names of TaskFlow's stream (its default prefix, which the roles keep). */
const NATS_PREFIX = "taskflow";

async function natsSite(url: string, topics: readonly string[], group: string) {
  const streamName = (t: string) => `${NATS_PREFIX}_${t.replaceAll(".", "_")}`;
  const leases = `${NATS_PREFIX}_leases`;
  const durable = group.replaceAll(".", "_");
  const open = async () => {
    const nc = await withTimeout(connect({ servers: url.split(",") }), 5_000, "NATS");
    return { nc, jsm: await jetstreamManager(nc) };
  };
  const exists = async (f: () => Promise<unknown>) =>
    f().then(
      () => true,
      () => false,
    );
  const { nc, jsm } = await open();
  const before = new Map<string, { stream: boolean; consumer: boolean }>();
  let leasesBefore: boolean;
  try {
    for (const t of topics) {
      const stream = await exists(() => jsm.streams.info(streamName(t)));
      const consumer = stream && (await exists(() => jsm.consumers.info(streamName(t), durable)));
      before.set(t, { stream, consumer });
    }
    leasesBefore = await exists(() => jsm.streams.info(leases));
    if (leasesBefore) {
      for (const t of topics) {
        const held = await exists(() =>
          jsm.streams.getMessage(leases, {
            last_by_subj: `${leases}.${streamName(t)}.${durable}`,
          }),
        );
        if (held) {
          throw new Error(
            `NATS lease ${leases}.${streamName(t)}.${durable} is held: another analytics role is reading "${t}" on this server; stop it first (or wait for the lease to age out)`,
          );
        }
      }
    }
  } finally {
    await nc.close();
  }
  const existing = topics
    .flatMap((t) => {
      const s = before.get(t);
      return s?.stream
        ? [`stream ${streamName(t)}${s.consumer ? ` (consumer ${durable})` : ""}`]
        : [];
    })
    .join(", ");
  return {
    kind: "nats" as const,
    existing,
    async cleanup() {
      const { nc, jsm } = await open();
      const removed: string[] = [];
      try {
        for (const t of topics) {
          const s = before.get(t);
          if (!s?.stream) {
            if (await jsm.streams.delete(streamName(t)).catch(() => false))
              removed.push(`stream ${streamName(t)}`);
          } else if (!s.consumer) {
            if (await jsm.consumers.delete(streamName(t), durable).catch(() => false))
              removed.push(`consumer ${durable} of ${streamName(t)}`);
          }
        }
        if (!leasesBefore && (await jsm.streams.delete(leases).catch(() => false)))
          removed.push(`stream ${leases}`);
      } finally {
        await nc.close();
      }
      return removed.join(", ");
    },
  };
}

import type { Database, DatabaseHandle, Kysely, QueueTableVacuum } from "@taskflow/db";
import { createQueueTableVacuum, sql } from "@taskflow/db";
import type {
  ConsumeOptions,
  Delivery,
  QueueMessage,
  QueueStats,
  Subscription,
  TaskQueue,
} from "../task-queue.ts";

export interface EmbeddedTaskQueueOptions {
  database: DatabaseHandle;
  queue: string;
  /** How long a delivery stays invisible to others; renewed while it is held. */
  leaseMs?: number;
  /** Longest wait between looks at the table when no NOTIFY arrives. */
  pollMs?: number;
  /** Deliveries after which a message is dead-lettered without being handed out again. */
  deliveryLimit?: number;
  /** Settled messages between two VACUUMs of queue_messages (default: `defaultVacuumEvery`). */
  vacuumEvery?: number;
  /** A VACUUM of queue_messages failed (the queue goes on; the next one may succeed). */
  onError?: (error: Error) => void;
}

const QUEUE_CHANNEL = "taskflow_queue";

// PGlite belongs to one process: leases found when it is first consumed from were taken by a
// process that is gone (a crash), so they are released at once instead of after the lease.
const recovered = new WeakSet<DatabaseHandle>();

async function releaseOrphanedLeases(database: DatabaseHandle) {
  if (database.engine !== "pglite" || recovered.has(database)) return;
  recovered.add(database);
  await sql`UPDATE queue_messages SET visible_at = now() WHERE visible_at > now() AND deliveries > 0`.execute(
    database.db,
  );
}

/**
 * The embedded task queue: messages are rows in the application database, taken with
 * FOR UPDATE SKIP LOCKED under a lease, so a restart or a crash loses nothing (an expired
 * lease makes the message visible again, flagged as redelivered). Publishers NOTIFY, so an
 * idle consumer wakes at once.
 */
export function createEmbeddedTaskQueue(options: EmbeddedTaskQueueOptions): TaskQueue {
  const { database, queue } = options;
  const db: Kysely<Database> = database.db;
  const leaseMs = options.leaseMs ?? 30_000;
  const pollMs = options.pollMs ?? 1_000;
  const deliveryLimit = options.deliveryLimit ?? 20;
  const consumers = new Set<EmbeddedConsumer>();
  // Every message is deleted once settled: the table churns like the outbox.
  const vacuum = createQueueTableVacuum(database, "queue_messages", {
    every: options.vacuumEvery,
    onError: options.onError ?? (() => {}),
  });

  return {
    engine: "embedded",
    name: queue,

    async publish(messages: readonly QueueMessage[]) {
      if (messages.length === 0) return;
      await db
        .with("published", (qb) =>
          qb.insertInto("queue_messages").values(
            messages.map((m) => ({
              queue,
              message_id: m.id,
              body: JSON.stringify(m.body),
              headers: JSON.stringify(m.headers ?? {}),
              ...(m.priority === undefined ? {} : { priority: m.priority }),
            })),
          ),
        )
        .selectNoFrom(sql<string>`pg_notify(${QUEUE_CHANNEL}, ${queue})`.as("notified"))
        .execute();
    },

    async consume(onDelivery, consumeOptions: ConsumeOptions) {
      await releaseOrphanedLeases(database);
      const consumer = new EmbeddedConsumer(
        db,
        queue,
        onDelivery,
        consumeOptions.prefetch,
        {
          leaseMs,
          pollMs,
          deliveryLimit,
        },
        vacuum,
      );
      consumers.add(consumer);
      const unlisten = await database.listen(QUEUE_CHANNEL, (payload) => {
        if (payload === queue) consumer.wake();
      });
      database.onReconnect(() => consumer.wake());
      consumer.start();
      return {
        async stop() {
          await unlisten();
          await consumer.stop();
        },
      } satisfies Subscription;
    },

    async stats(): Promise<QueueStats> {
      const row = await sql<{ waiting: number; dead: number }>`
        SELECT (SELECT count(*) FROM queue_messages WHERE queue = ${queue})::int AS waiting,
               (SELECT count(*) FROM queue_dead_letters WHERE queue = ${queue})::int AS dead
      `.execute(db);
      const counts = row.rows[0] ?? { waiting: 0, dead: 0 };
      const active = [...consumers].filter((c) => c.active).length;
      return { waiting: counts.waiting, consumers: active, deadLettered: counts.dead };
    },

    async peekDeadLetters(limit: number) {
      const rows = await db
        .selectFrom("queue_dead_letters")
        .select(["message_id", "body", "headers"])
        .where("queue", "=", queue)
        .orderBy("id")
        .limit(limit)
        .execute();
      return rows.map((r) => ({ id: r.message_id, body: r.body, headers: r.headers }));
    },

    async removeDeadLetters(ids: readonly string[]) {
      if (ids.length === 0) return 0;
      // One array parameter, however many ids (a list of them would hit the parameter limit);
      // every row of an id goes, also a message dead-lettered twice.
      const result = await db
        .deleteFrom("queue_dead_letters")
        .where("queue", "=", queue)
        .where(sql<boolean>`message_id = ANY(${[...ids]}::text[])`)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async purgeDeadLetters() {
      const result = await db
        .deleteFrom("queue_dead_letters")
        .where("queue", "=", queue)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async ping() {
      await database.ping();
    },

    async close() {
      // Settlements made after a subscription stopped (draining work) are written here.
      await Promise.all([...consumers].map((c) => c.stop()));
      consumers.clear();
      await vacuum.settled();
    },
  };
}

interface Settlement {
  id: number;
  kind: "ack" | "requeue" | "dead";
  reason?: string;
}

class EmbeddedConsumer {
  private readonly held = new Set<number>();
  private settlements: Settlement[] = [];
  private running = false;
  private pumping = false;
  private wanted = false;
  private timer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly queue: string,
    private readonly onDelivery: (delivery: Delivery) => void,
    private readonly prefetch: number,
    private readonly limits: { leaseMs: number; pollMs: number; deliveryLimit: number },
    private readonly vacuum: QueueTableVacuum,
  ) {}

  get active() {
    return this.running;
  }

  start() {
    this.running = true;
    this.leaseTimer = setInterval(() => void this.renewLeases(), this.limits.leaseMs / 3);
    this.leaseTimer.unref();
    this.wake();
  }

  async stop() {
    this.running = false;
    clearTimeout(this.timer);
    clearInterval(this.leaseTimer);
    while (this.pumping) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.flush();
  }

  /** Looks for messages now (a publish was notified, a delivery settled, or the poll came). */
  wake() {
    if (!this.running) return;
    if (this.pumping) {
      this.wanted = true;
      return;
    }
    void this.pump();
  }

  private async pump() {
    this.pumping = true;
    clearTimeout(this.timer);
    try {
      do {
        this.wanted = false;
        await this.flush();
        const room = this.prefetch - this.held.size;
        if (room <= 0 || !this.running) break;
        const taken = await this.take(room);
        if (taken === room) this.wanted = true;
      } while (this.wanted && this.running);
    } catch {
      // The database is unreachable or restarting: the next poll tries again.
    } finally {
      this.pumping = false;
      if (this.running) {
        this.timer = setTimeout(() => this.wake(), this.limits.pollMs);
        this.timer.unref();
      }
    }
  }

  private async take(room: number): Promise<number> {
    const { rows } = await sql<{
      id: number;
      message_id: string;
      body: unknown;
      headers: Record<string, string>;
      deliveries: number;
      priority: number;
    }>`
      UPDATE queue_messages SET deliveries = deliveries + 1,
                                visible_at = now() + ${`${this.limits.leaseMs} milliseconds`}::interval
      WHERE id IN (
        SELECT id FROM queue_messages
        WHERE queue = ${this.queue} AND visible_at <= now()
        ORDER BY priority, visible_at, id
        LIMIT ${room}
        FOR UPDATE SKIP LOCKED
      )
      RETURNING id, message_id, body, headers, deliveries, priority
    `.execute(this.db);
    for (const row of rows) {
      this.held.add(row.id);
      if (row.deliveries > this.limits.deliveryLimit) {
        this.settle({ id: row.id, kind: "dead", reason: "delivery limit reached" });
        continue;
      }
      let settled = false;
      const once = (settlement: Omit<Settlement, "id">) => {
        if (settled) return;
        settled = true;
        this.settle({ id: row.id, ...settlement });
      };
      this.onDelivery({
        message: {
          id: row.message_id,
          body: row.body,
          headers: row.headers,
          priority: row.priority,
        },
        redelivered: row.deliveries > 1,
        ack: () => once({ kind: "ack" }),
        requeue: () => once({ kind: "requeue" }),
        deadLetter: (reason) => once({ kind: "dead", reason }),
      });
    }
    return rows.length;
  }

  private settle(settlement: Settlement) {
    this.settlements.push(settlement);
    // Settlements made in the same tick are written together.
    if (this.settlements.length > 1) return;
    setImmediate(() => {
      if (this.running) this.wake();
      else void this.flush().catch(() => {});
    });
  }

  private async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.settlements.length === 0) return;
    const batch = this.settlements;
    this.settlements = [];
    this.flushing = this.write(batch).finally(() => {
      this.flushing = undefined;
    });
    try {
      await this.flushing;
      for (const s of batch) this.held.delete(s.id);
    } catch (error) {
      this.settlements.unshift(...batch);
      throw error;
    }
  }

  private async write(batch: Settlement[]) {
    const acked = batch.filter((s) => s.kind === "ack").map((s) => s.id);
    const requeued = batch.filter((s) => s.kind === "requeue").map((s) => s.id);
    const dead = batch.filter((s) => s.kind === "dead");
    await this.db.transaction().execute(async (trx) => {
      if (acked.length) {
        await sql`DELETE FROM queue_messages WHERE id = ANY(${acked}::bigint[])`.execute(trx);
      }
      if (requeued.length) {
        await sql`UPDATE queue_messages SET visible_at = now() WHERE id = ANY(${requeued}::bigint[])`.execute(
          trx,
        );
      }
      if (dead.length) {
        await sql`
          WITH moved AS (
            DELETE FROM queue_messages q
            USING unnest(${dead.map((d) => d.id)}::bigint[], ${dead.map((d) => d.reason ?? "rejected")}::text[])
              AS d(id, reason)
            WHERE q.id = d.id
            RETURNING q.queue, q.message_id, q.body, q.headers, q.deliveries, d.reason
          )
          INSERT INTO queue_dead_letters (queue, message_id, body, headers, reason, deliveries)
          SELECT queue, message_id, body, headers, reason, deliveries FROM moved
        `.execute(trx);
      }
    });
    this.vacuum.deleted(acked.length + dead.length);
  }

  private async renewLeases() {
    if (this.held.size === 0) return;
    await sql`
      UPDATE queue_messages
      SET visible_at = now() + ${`${this.limits.leaseMs} milliseconds`}::interval
      WHERE id = ANY(${[...this.held]}::bigint[])
    `
      .execute(this.db)
      .catch(() => {});
  }
}

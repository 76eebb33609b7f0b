import { type Database, type Kysely, sql, type Transaction } from "@taskflow/db";
import type { AnalyticsFact } from "./analytics-events.ts";
import { bucketValueMs, durationBucket } from "./duration-histogram.ts";

/** What applying a batch did: events counted now, and events counted before (skipped). */
export interface AppliedBatch {
  applied: number;
  duplicates: number;
}

/** Every-time totals of the aggregates (what a rebuild reports). */
export interface AnalyticsTotals {
  processedEvents: number;
  orders: number;
  revenueCents: Record<string, number>;
  tasksCompleted: number;
  tasksFailed: number;
}

/** The aggregate changes of a set of facts, keyed and sorted as they are upserted. */
function aggregate(facts: readonly AnalyticsFact[]) {
  const orders = new Map<string, { minute: string; currency: string; n: number; cents: number }>();
  const products = new Map<
    string,
    { minute: string; sku: string; currency: string; name: string; qty: number; cents: number }
  >();
  const tasks = new Map<string, { minute: string; completed: number; failed: number }>();
  const durations = new Map<string, { minute: string; bucket: number; n: number }>();
  for (const fact of facts) {
    const minute = fact.minute.toISOString();
    if (fact.kind === "order") {
      const key = `${minute}|${fact.currency}`;
      const o = orders.get(key) ?? { minute, currency: fact.currency, n: 0, cents: 0 };
      o.n += 1;
      o.cents += fact.totalCents;
      orders.set(key, o);
      for (const line of fact.lines) {
        const pkey = `${minute}|${line.sku}|${fact.currency}`;
        const p = products.get(pkey) ?? {
          minute,
          sku: line.sku,
          currency: fact.currency,
          name: line.name,
          qty: 0,
          cents: 0,
        };
        p.name = line.name;
        p.qty += line.quantity;
        p.cents += line.revenueCents;
        products.set(pkey, p);
      }
    } else {
      const t = tasks.get(minute) ?? { minute, completed: 0, failed: 0 };
      if (fact.status === "DONE") t.completed += 1;
      else t.failed += 1;
      tasks.set(minute, t);
      if (fact.durationMs !== null) {
        const bucket = durationBucket(fact.durationMs);
        const dkey = `${minute}|${bucket}`;
        const d = durations.get(dkey) ?? { minute, bucket, n: 0 };
        d.n += 1;
        durations.set(dkey, d);
      }
    }
  }
  // Every transaction upserts its rows in key order: two of them never wait on each other
  // in a cycle (Kafka can run consumers of one group side by side).
  const sorted = <T>(map: Map<string, T>) =>
    [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  return {
    orders: sorted(orders),
    products: sorted(products),
    tasks: sorted(tasks),
    durations: [...durations.values()].sort((a, b) =>
      a.minute === b.minute ? a.bucket - b.bucket : a.minute < b.minute ? -1 : 1,
    ),
  };
}

async function upsertAggregates(trx: Transaction<Database>, facts: readonly AnalyticsFact[]) {
  const { orders, products, tasks, durations } = aggregate(facts);
  if (orders.length > 0) {
    await sql`
      INSERT INTO analytics_order_minutes AS a (minute, currency, orders, revenue_cents)
      SELECT * FROM unnest(${orders.map((o) => o.minute)}::timestamptz[],
        ${orders.map((o) => o.currency)}::text[], ${orders.map((o) => o.n)}::bigint[],
        ${orders.map((o) => o.cents)}::bigint[])
      ON CONFLICT (minute, currency) DO UPDATE
      SET orders = a.orders + excluded.orders,
          revenue_cents = a.revenue_cents + excluded.revenue_cents
    `.execute(trx);
  }
  if (products.length > 0) {
    await sql`
      INSERT INTO analytics_product_minutes AS a
        (minute, sku, currency, name, quantity, revenue_cents)
      SELECT * FROM unnest(${products.map((p) => p.minute)}::timestamptz[],
        ${products.map((p) => p.sku)}::text[], ${products.map((p) => p.currency)}::text[],
        ${products.map((p) => p.name)}::text[], ${products.map((p) => p.qty)}::bigint[],
        ${products.map((p) => p.cents)}::bigint[])
      ON CONFLICT (minute, sku, currency) DO UPDATE
      SET name = excluded.name,
          quantity = a.quantity + excluded.quantity,
          revenue_cents = a.revenue_cents + excluded.revenue_cents
    `.execute(trx);
  }
  if (tasks.length > 0) {
    await sql`
      INSERT INTO analytics_task_minutes AS a (minute, completed, failed)
      SELECT * FROM unnest(${tasks.map((t) => t.minute)}::timestamptz[],
        ${tasks.map((t) => t.completed)}::bigint[], ${tasks.map((t) => t.failed)}::bigint[])
      ON CONFLICT (minute) DO UPDATE
      SET completed = a.completed + excluded.completed, failed = a.failed + excluded.failed
    `.execute(trx);
  }
  if (durations.length > 0) {
    await sql`
      INSERT INTO analytics_task_durations AS a (minute, bucket, value_ms, count)
      SELECT * FROM unnest(${durations.map((d) => d.minute)}::timestamptz[],
        ${durations.map((d) => d.bucket)}::int[],
        ${durations.map((d) => bucketValueMs(d.bucket))}::float8[],
        ${durations.map((d) => d.n)}::bigint[])
      ON CONFLICT (minute, bucket) DO UPDATE SET count = a.count + excluded.count
    `.execute(trx);
  }
}

/** The analytics tables: the only writer of the aggregates and of the processed event ids. */
export function createAnalyticsRepository(db: Kysely<Database>) {
  return {
    /**
     * Counts the facts of one stream batch in one transaction: their event ids are recorded
     * for `consumer` (INSERT … ON CONFLICT DO NOTHING RETURNING), and only the ids recorded
     * now change the aggregates — an id seen before (a redelivery, or twice in the batch)
     * changes nothing. If the transaction fails, nothing of the batch counted.
     */
    async apply(consumer: string, facts: readonly AnalyticsFact[]): Promise<AppliedBatch> {
      if (facts.length === 0) return { applied: 0, duplicates: 0 };
      const ids = [...new Set(facts.map((f) => f.eventId))].sort();
      return db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ event_id: string }>`
          INSERT INTO analytics_processed_events (consumer, event_id)
          SELECT ${consumer}, id FROM unnest(${ids}::text[]) AS t(id)
          ON CONFLICT DO NOTHING
          RETURNING event_id
        `.execute(trx);
        const fresh = new Set(rows.map((r) => r.event_id));
        // The first of an id's facts in the batch is the one that counts.
        const counted = facts.filter((f) => fresh.delete(f.eventId));
        await upsertAggregates(trx, counted);
        return { applied: counted.length, duplicates: facts.length - counted.length };
      });
    },

    /**
     * Forgets `consumer`'s event ids processed before `before`, at most `limit` of them per
     * call (the caller repeats while it gets `limit`); returns how many.
     */
    async forgetProcessed(consumer: string, before: Date, limit = 10_000): Promise<number> {
      const { rows } = await sql<{ n: number }>`
        WITH gone AS (
          DELETE FROM analytics_processed_events
          WHERE (consumer, event_id) IN (
            SELECT consumer, event_id FROM analytics_processed_events
            WHERE consumer = ${consumer} AND processed_at < ${before}
            LIMIT ${limit})
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM gone
      `.execute(db);
      return rows[0]?.n ?? 0;
    },

    /** Empties the aggregates and `consumer`'s processed ids, in one transaction (a rebuild). */
    async reset(consumer: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await sql`TRUNCATE analytics_order_minutes, analytics_product_minutes,
                  analytics_task_minutes, analytics_task_durations`.execute(trx);
        await trx
          .deleteFrom("analytics_processed_events")
          .where("consumer", "=", consumer)
          .execute();
      });
    },

    async totals(consumer: string): Promise<AnalyticsTotals> {
      const [processed, orders, tasks] = await Promise.all([
        db
          .selectFrom("analytics_processed_events")
          .select((eb) => eb.fn.countAll<string>().as("n"))
          .where("consumer", "=", consumer)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom("analytics_order_minutes")
          .select([
            "currency",
            (eb) => eb.fn.sum<string>("orders").as("orders"),
            (eb) => eb.fn.sum<string>("revenue_cents").as("revenue_cents"),
          ])
          .groupBy("currency")
          .orderBy("currency")
          .execute(),
        db
          .selectFrom("analytics_task_minutes")
          .select([
            (eb) => eb.fn.sum<string>("completed").as("completed"),
            (eb) => eb.fn.sum<string>("failed").as("failed"),
          ])
          .executeTakeFirstOrThrow(),
      ]);
      return {
        processedEvents: Number(processed.n),
        orders: orders.reduce((n, row) => n + Number(row.orders), 0),
        revenueCents: Object.fromEntries(orders.map((r) => [r.currency, Number(r.revenue_cents)])),
        tasksCompleted: Number(tasks.completed ?? 0),
        tasksFailed: Number(tasks.failed ?? 0),
      };
    },
  };
}

export type AnalyticsRepository = ReturnType<typeof createAnalyticsRepository>;

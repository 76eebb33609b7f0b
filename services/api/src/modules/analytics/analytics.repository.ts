import { type Database, type Kysely, sql } from "@taskflow/db";

/** Percentiles of a histogram: the representative value of the bucket holding rank ⌈p·n⌉. */
export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface AnalyticsWindow {
  orders: { minute: Date; currency: string; orders: number; revenue_cents: number }[];
  products: {
    sku: string;
    currency: string;
    name: string;
    quantity: number;
    revenue_cents: number;
  }[];
  tasks: { minute: Date; completed: number; failed: number }[];
  durations: ({ minute: Date } & Percentiles)[];
  overall: Percentiles;
}

/**
 * Reads of the analytics service's aggregates (services/analytics writes them). Every read is
 * bounded by the window's minutes through the tables' primary keys, whatever the throughput:
 * a minute has one row per currency, per product sold, and at most ~1,100 duration buckets.
 */
export function createAnalyticsRepository(db: Kysely<Database>) {
  return {
    /** The window [from, to) in one snapshot: its figures agree with each other. */
    async window(from: Date, to: Date, top: number): Promise<AnalyticsWindow> {
      return db
        .transaction()
        .setIsolationLevel("repeatable read")
        .setAccessMode("read only")
        .execute(async (trx) => {
          const orders = await trx
            .selectFrom("analytics_order_minutes")
            .select(["minute", "currency", "orders", "revenue_cents"])
            .where("minute", ">=", from)
            .where("minute", "<", to)
            .orderBy("minute")
            .orderBy("currency")
            .execute();
          const products = await sql<{
            sku: string;
            currency: string;
            name: string;
            quantity: string;
            revenue_cents: string;
          }>`
            SELECT sku, currency, (array_agg(name ORDER BY minute DESC))[1] AS name,
                   sum(quantity) AS quantity, sum(revenue_cents) AS revenue_cents
            FROM analytics_product_minutes
            WHERE minute >= ${from} AND minute < ${to}
            GROUP BY sku, currency
            ORDER BY sum(quantity) DESC, sum(revenue_cents) DESC, sku, currency
            LIMIT ${top}
          `.execute(trx);
          const tasks = await trx
            .selectFrom("analytics_task_minutes")
            .select(["minute", "completed", "failed"])
            .where("minute", ">=", from)
            .where("minute", "<", to)
            .orderBy("minute")
            .execute();
          // Cumulative counts per minute in bucket order; the first bucket reaching the rank.
          const durations = await sql<{ minute: Date; p50: number | null; p95: number | null }>`
            WITH h AS (
              SELECT minute, value_ms,
                     sum(count) OVER (PARTITION BY minute ORDER BY bucket) AS reached,
                     sum(count) OVER (PARTITION BY minute) AS total
              FROM analytics_task_durations
              WHERE minute >= ${from} AND minute < ${to}
            )
            SELECT minute,
                   min(value_ms) FILTER (WHERE reached >= ceil(0.50 * total)) AS p50,
                   min(value_ms) FILTER (WHERE reached >= ceil(0.95 * total)) AS p95
            FROM h GROUP BY minute ORDER BY minute
          `.execute(trx);
          // The window's histogram: the minutes' buckets added up.
          const overall = await sql<{ p50: number | null; p95: number | null }>`
            WITH b AS (
              SELECT bucket, max(value_ms) AS value_ms, sum(count) AS count
              FROM analytics_task_durations
              WHERE minute >= ${from} AND minute < ${to}
              GROUP BY bucket
            ),
            h AS (
              SELECT value_ms, sum(count) OVER (ORDER BY bucket) AS reached,
                     sum(count) OVER () AS total
              FROM b
            )
            SELECT min(value_ms) FILTER (WHERE reached >= ceil(0.50 * total)) AS p50,
                   min(value_ms) FILTER (WHERE reached >= ceil(0.95 * total)) AS p95
            FROM h
          `.execute(trx);
          return {
            orders,
            products: products.rows.map((p) => ({
              ...p,
              quantity: Number(p.quantity),
              revenue_cents: Number(p.revenue_cents),
            })),
            tasks,
            durations: durations.rows,
            overall: overall.rows[0] ?? { p50: null, p95: null },
          };
        });
    },
  };
}

export type AnalyticsRepository = ReturnType<typeof createAnalyticsRepository>;

import type { AnalyticsRepository } from "./analytics.repository.ts";
import type { AnalyticsQuery, AnalyticsSummary } from "./analytics.schemas.ts";

const MINUTE_MS = 60_000;

const ms = (value: number | null | undefined) =>
  value === null || value === undefined ? null : Math.round(value);

/**
 * The analytics summary over the last `minutes` minutes (the current one included), from the
 * aggregates the analytics service keeps: global figures, not per user. Per-minute series are
 * dense (a minute without events is zeros), oldest first, ready to chart.
 */
export function createAnalyticsService(deps: { analytics: AnalyticsRepository; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  return {
    async summary({ minutes, top }: AnalyticsQuery): Promise<AnalyticsSummary> {
      const end = (Math.floor(now().getTime() / MINUTE_MS) + 1) * MINUTE_MS;
      const start = end - minutes * MINUTE_MS;
      const data = await deps.analytics.window(new Date(start), new Date(end), top);
      const slot = (minute: Date) => Math.floor((minute.getTime() - start) / MINUTE_MS);
      const minuteIso = (i: number) => new Date(start + i * MINUTE_MS).toISOString();

      const orderMinutes = Array.from({ length: minutes }, (_, i) => ({
        minute: minuteIso(i),
        count: 0,
        revenue_cents: {} as Record<string, number>,
      }));
      const revenue: Record<string, number> = {};
      let orderCount = 0;
      for (const row of data.orders) {
        const entry = orderMinutes[slot(row.minute)];
        if (!entry) continue;
        entry.count += row.orders;
        entry.revenue_cents[row.currency] =
          (entry.revenue_cents[row.currency] ?? 0) + row.revenue_cents;
        orderCount += row.orders;
        revenue[row.currency] = (revenue[row.currency] ?? 0) + row.revenue_cents;
      }

      const taskMinutes = Array.from({ length: minutes }, (_, i) => ({
        minute: minuteIso(i),
        completed: 0,
        failed: 0,
        p50_ms: null as number | null,
        p95_ms: null as number | null,
      }));
      let completed = 0;
      let failed = 0;
      for (const row of data.tasks) {
        const entry = taskMinutes[slot(row.minute)];
        if (!entry) continue;
        entry.completed = row.completed;
        entry.failed = row.failed;
        completed += row.completed;
        failed += row.failed;
      }
      for (const row of data.durations) {
        const entry = taskMinutes[slot(row.minute)];
        if (!entry) continue;
        entry.p50_ms = ms(row.p50);
        entry.p95_ms = ms(row.p95);
      }

      return {
        window: {
          minutes,
          from: new Date(start).toISOString(),
          to: new Date(end).toISOString(),
        },
        orders: { count: orderCount, revenue_cents: revenue, per_minute: orderMinutes },
        top_products: data.products,
        tasks: {
          completed,
          failed,
          p50_ms: ms(data.overall.p50),
          p95_ms: ms(data.overall.p95),
          per_minute: taskMinutes,
        },
      };
    },
  };
}

export type AnalyticsService = ReturnType<typeof createAnalyticsService>;

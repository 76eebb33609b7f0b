import { type Static, Type } from "@sinclair/typebox";

const Minute = Type.String({ format: "date-time", description: "The minute's start (UTC)" });
const Count = Type.Integer({ minimum: 0 });
const Millis = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
  description:
    "Time-to-DONE (created_at → finished_at) in ms, nearest-rank, within 1 % (+ rounding to the ms; exact under 50 ms); null without DONE tasks",
});
const RevenueByCurrency = Type.Record(Type.String({ pattern: "^[A-Z]{3}$" }), Type.Integer(), {
  description: "Revenue in cents by ISO 4217 currency (one key per currency sold in)",
  examples: [{ EUR: 15980 }],
});

export const AnalyticsQuery = Type.Object(
  {
    minutes: Type.Integer({
      minimum: 1,
      maximum: 1440,
      default: 60,
      description: "The window: this many minutes up to now, the current one included",
    }),
    top: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: "Products listed" }),
  },
  { additionalProperties: false },
);
export type AnalyticsQuery = Static<typeof AnalyticsQuery>;

export const AnalyticsSummarySchema = Type.Object(
  {
    window: Type.Object({
      minutes: Count,
      from: Type.String({ format: "date-time", description: "Inclusive" }),
      to: Type.String({ format: "date-time", description: "Exclusive: the end of this minute" }),
    }),
    orders: Type.Object({
      count: Count,
      revenue_cents: RevenueByCurrency,
      per_minute: Type.Array(
        Type.Object({ minute: Minute, count: Count, revenue_cents: RevenueByCurrency }),
        { description: "Every minute of the window, oldest first (zeros included)" },
      ),
    }),
    top_products: Type.Array(
      Type.Object({
        sku: Type.String(),
        name: Type.String(),
        currency: Type.String(),
        quantity: Count,
        revenue_cents: Type.Integer(),
      }),
      { description: "By units sold in the window, then revenue" },
    ),
    tasks: Type.Object({
      completed: Count,
      failed: Count,
      p50_ms: Millis,
      p95_ms: Millis,
      per_minute: Type.Array(
        Type.Object({
          minute: Minute,
          completed: Count,
          failed: Count,
          p50_ms: Millis,
          p95_ms: Millis,
        }),
        { description: "Every minute of the window by finished_at, oldest first" },
      ),
    }),
  },
  { $id: "AnalyticsSummary", title: "AnalyticsSummary" },
);
export type AnalyticsSummary = Static<typeof AnalyticsSummarySchema>;

export const analyticsSchemas = [AnalyticsSummarySchema];

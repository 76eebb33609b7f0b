import { useCallback, useEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router";
import { api, describeProblem, type Schemas, unwrap } from "../../api/client.ts";
import { BarChart, Figures, LineChart } from "../../components/charts.tsx";
import { formatDuration } from "../../components/date-time.tsx";
import { formatMoney, formatMoneyByCurrency } from "../../components/money.ts";
import { isForbidden, OperatorsOnly } from "../../components/operators-only.tsx";
import { EmptyState, ErrorState, Loading } from "../../components/page-state.tsx";
import { useDocumentTitle } from "../../components/use-document-title.ts";

export type AnalyticsSummary = Schemas["AnalyticsSummary"];

/** Auto-refresh period. */
export const REFRESH_MS = 10_000;

const WINDOWS = [
  { minutes: 15, label: "Last 15 minutes" },
  { minutes: 60, label: "Last hour" },
  { minutes: 360, label: "Last 6 hours" },
  { minutes: 1440, label: "Last 24 hours" },
] as const;
const DEFAULT_MINUTES = 60;

const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const minuteLabel = (iso: string) => minuteFormat.format(new Date(iso));
const count = (n: number) => String(Math.round(n));
const duration = (ms: number | null) => (ms === null ? "–" : formatDuration(ms));

type State =
  | { phase: "loading" }
  | { phase: "ready"; summary: AnalyticsSummary; at: Date; refreshError?: unknown }
  | { phase: "error"; error: unknown };

/**
 * /analytics (operators): orders and revenue per minute, top products, tasks completed and
 * failed per minute and the time to DONE; refreshed every 10 s while "Auto-refresh" is on.
 */
export default function AnalyticsPage() {
  useDocumentTitle("Analytics");
  const [params, setParams] = useSearchParams();
  const asked = Number(params.get("minutes"));
  const minutes = WINDOWS.some((w) => w.minutes === asked) ? asked : DEFAULT_MINUTES;
  const [auto, setAuto] = useState(true);
  const [refreshing, setRefreshing] = useState(false);
  const [state, setState] = useState<State>({ phase: "loading" });
  const generation = useRef(0);

  const load = useCallback(
    async (quiet: boolean) => {
      const mine = ++generation.current;
      if (!quiet) setState({ phase: "loading" });
      setRefreshing(true);
      try {
        const summary = await unwrap(
          api.GET("/api/analytics/summary", { params: { query: { minutes, top: 10 } } }),
        );
        if (mine === generation.current) setState({ phase: "ready", summary, at: new Date() });
      } catch (error) {
        if (mine !== generation.current) return;
        // Figures already shown stay, with a note, unless the answer says they are not ours.
        setState((s) =>
          s.phase === "ready" && quiet && !isForbidden(error)
            ? { ...s, refreshError: error }
            : { phase: "error", error },
        );
      } finally {
        if (mine === generation.current) setRefreshing(false);
      }
    },
    [minutes],
  );

  useEffect(() => {
    void load(false);
  }, [load]);

  const forbidden = state.phase === "error" && isForbidden(state.error);
  useEffect(() => {
    if (!auto || forbidden) return;
    const timer = setInterval(() => {
      // A hidden tab does not need fresh figures; it gets them when shown again.
      if (document.visibilityState !== "hidden") void load(true);
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [auto, forbidden, load]);

  if (forbidden) {
    return (
      <>
        <h1>Analytics</h1>
        <OperatorsOnly title="Analytics are for operators only" />
      </>
    );
  }

  return (
    <>
      <h1>Analytics</h1>
      <div className="toolbar analytics-toolbar">
        <label className="inline-field">
          Window
          <select
            value={minutes}
            onChange={(e) => setParams({ minutes: e.target.value }, { replace: true })}
          >
            {WINDOWS.map((w) => (
              <option key={w.minutes} value={w.minutes}>
                {w.label}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="button"
          onClick={() => void load(true)}
          disabled={refreshing}
          aria-busy={refreshing}
        >
          {refreshing ? "Refreshing…" : "Refresh"}
        </button>
        <label className="inline-field checkbox-field">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} />
          Auto-refresh every 10 s
        </label>
        {state.phase === "ready" && (
          <span className="muted updated-at">Updated {timeFormat.format(state.at)}</span>
        )}
      </div>

      {state.phase === "loading" && <Loading label="Loading analytics…" />}
      {state.phase === "error" && (
        <ErrorState
          title="Analytics unavailable"
          error={state.error}
          onRetry={() => void load(false)}
        />
      )}
      {state.phase === "ready" && (
        <>
          {state.refreshError !== undefined && (
            <p className="action-message error" role="alert">
              Could not refresh: {describeProblem(state.refreshError)} The figures are from{" "}
              {timeFormat.format(state.at)}.
            </p>
          )}
          <Summary summary={state.summary} />
        </>
      )}
    </>
  );
}

function Summary({ summary }: { summary: AnalyticsSummary }) {
  const { orders, tasks } = summary;
  const orderLabels = orders.per_minute.map((m) => minuteLabel(m.minute));
  const taskLabels = tasks.per_minute.map((m) => minuteLabel(m.minute));
  const currencies = [
    ...new Set([
      ...Object.keys(orders.revenue_cents),
      ...orders.per_minute.flatMap((m) => Object.keys(m.revenue_cents)),
    ]),
  ].sort();

  return (
    <>
      <section className="card" aria-labelledby="analytics-totals">
        <h2 id="analytics-totals">In this window</h2>
        <Figures
          items={[
            { label: "Orders", value: count(orders.count) },
            { label: "Revenue", value: formatMoneyByCurrency(orders.revenue_cents) },
            { label: "Tasks completed", value: count(tasks.completed) },
            { label: "Tasks failed", value: count(tasks.failed) },
            { label: "Time to done, p50", value: duration(tasks.p50_ms) },
            { label: "Time to done, p95", value: duration(tasks.p95_ms) },
          ]}
        />
      </section>

      <div className="chart-grid">
        <section className="card" aria-labelledby="analytics-orders">
          <h2 id="analytics-orders">Orders per minute</h2>
          <BarChart
            title="Orders per minute"
            labels={orderLabels}
            series={[
              { name: "Orders", values: orders.per_minute.map((m) => m.count), tone: "accent" },
            ]}
            format={count}
            emptyText="No orders in this window."
          />
        </section>

        <section className="card" aria-labelledby="analytics-revenue">
          <h2 id="analytics-revenue">Revenue per minute</h2>
          {currencies.length === 0 ? (
            <p className="chart-empty">No revenue in this window.</p>
          ) : (
            currencies.map((currency) => (
              <LineChart
                key={currency}
                title={
                  currencies.length > 1 ? `Revenue per minute in ${currency}` : "Revenue per minute"
                }
                labels={orderLabels}
                series={[
                  {
                    name: `Revenue (${currency})`,
                    values: orders.per_minute.map((m) => m.revenue_cents[currency] ?? 0),
                    tone: "done",
                  },
                ]}
                format={(cents) => formatMoney(cents, currency)}
                emptyText={`No revenue in ${currency} in this window.`}
              />
            ))
          )}
        </section>

        <section className="card" aria-labelledby="analytics-tasks">
          <h2 id="analytics-tasks">Tasks per minute</h2>
          <BarChart
            title="Tasks finished per minute"
            labels={taskLabels}
            series={[
              { name: "Completed", values: tasks.per_minute.map((m) => m.completed), tone: "done" },
              { name: "Failed", values: tasks.per_minute.map((m) => m.failed), tone: "failed" },
            ]}
            format={count}
            emptyText="No tasks finished in this window."
          />
        </section>

        <section className="card" aria-labelledby="analytics-durations">
          <h2 id="analytics-durations">Time to done</h2>
          <p className="field-hint">From a task's creation to DONE, per minute it finished in.</p>
          <LineChart
            title="Time to done per minute"
            labels={taskLabels}
            series={[
              { name: "p50", values: tasks.per_minute.map((m) => m.p50_ms), tone: "accent" },
              { name: "p95", values: tasks.per_minute.map((m) => m.p95_ms), tone: "retrying" },
            ]}
            format={(ms) => formatDuration(ms)}
            emptyText="No task reached DONE in this window."
          />
        </section>
      </div>

      <section className="card" aria-labelledby="analytics-products">
        <h2 id="analytics-products">Top products</h2>
        {summary.top_products.length === 0 ? (
          <EmptyState title="No products sold in this window." />
        ) : (
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">
                Top products by units sold, then revenue
              </caption>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col" className="num">
                    Units
                  </th>
                  <th scope="col" className="num">
                    Revenue
                  </th>
                </tr>
              </thead>
              <tbody>
                {summary.top_products.map((p) => (
                  <tr key={`${p.sku}-${p.currency}`}>
                    <th scope="row">
                      {p.name} <span className="task-meta">{p.sku}</span>
                    </th>
                    <td className="num">{p.quantity}</td>
                    <td className="num">{formatMoney(p.revenue_cents, p.currency)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

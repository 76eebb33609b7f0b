import { useState } from "react";

/** A series' colour, from the stylesheet's palette. */
export type Tone = "accent" | "done" | "failed" | "retrying" | "processing" | "muted";

export interface Series {
  name: string;
  /** One per label; null: no value in that slot (a line is broken there). */
  values: readonly (number | null)[];
  tone: Tone;
}

interface ChartProps {
  /** Names the chart (its image and its table). */
  title: string;
  /** The x axis, one per slot ("12:03"). */
  labels: readonly string[];
  series: readonly Series[];
  /** A value as text ("3", "€12.00", "850 ms"). */
  format: (value: number) => string;
  /** Shown instead of the chart when every value is zero or missing. */
  emptyText: string;
  /** The table's first column ("Minute"). */
  labelHeading?: string;
}

const WIDTH = 480;
const HEIGHT = 180;
const PAD = { top: 12, right: 8, bottom: 24, left: 60 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;

/** 1, 2, 2.5, 5 × 10ⁿ at or above `value`: gridlines at round numbers. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function isEmpty(series: readonly Series[]) {
  return series.every((s) => s.values.every((v) => v === null || v === 0));
}

/**
 * What a screen reader hears for a chart (its image's name): per series, the total and the
 * peak (bars), or the range and the latest value (lines).
 */
export function describeChart(
  kind: "bars" | "lines",
  { title, labels, series, format }: Pick<ChartProps, "title" | "labels" | "series" | "format">,
): string {
  const parts = series.map((s) => {
    let peak = -Infinity;
    let peakAt = "";
    let low = Infinity;
    let total = 0;
    let latest: number | null = null;
    s.values.forEach((v, i) => {
      if (v === null) return;
      total += v;
      latest = v;
      low = Math.min(low, v);
      if (v > peak) {
        peak = v;
        peakAt = labels[i] ?? "";
      }
    });
    if (peak === -Infinity) return `${s.name}: no data`;
    if (kind === "bars")
      return `${s.name}: ${format(total)} in all, at most ${format(peak)} (${peakAt})`;
    return `${s.name}: from ${format(low)} to ${format(peak)} (${peakAt}), latest ${format(latest ?? 0)}`;
  });
  const span = labels.length ? ` from ${labels[0]} to ${labels.at(-1)}` : "";
  return `${title}${span}. ${parts.join("; ")}.`;
}

function Axes({
  max,
  labels,
  format,
}: {
  max: number;
  labels: readonly string[];
  format: (v: number) => string;
}) {
  // The middle line only where it has a label of its own (a count up to 1 has no ½).
  const ticks =
    format(max / 2) === format(max) || format(max / 2) === format(0) ? [0, max] : [0, max / 2, max];
  const n = labels.length;
  const xTicks = n <= 1 ? [0] : [0, Math.floor((n - 1) / 2), n - 1];
  return (
    <g className="chart-axes">
      {ticks.map((t) => {
        const y = PAD.top + PLOT_H - (t / max) * PLOT_H;
        return (
          <g key={t}>
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y} y2={y} className="chart-gridline" />
            <text x={PAD.left - 6} y={y + 4} textAnchor="end">
              {format(t)}
            </text>
          </g>
        );
      })}
      {xTicks.map((i) => {
        const x = PAD.left + ((i + 0.5) / Math.max(1, n)) * PLOT_W;
        const anchor = i === 0 ? "start" : i === n - 1 ? "end" : "middle";
        return (
          <text key={i} x={x} y={HEIGHT - 6} textAnchor={anchor}>
            {labels[i]}
          </text>
        );
      })}
    </g>
  );
}

function Legend({ series }: { series: readonly Series[] }) {
  if (series.length < 2) return null;
  return (
    <ul className="chart-legend" aria-hidden="true">
      {series.map((s) => (
        <li key={s.name}>
          <span className={`chart-swatch tone-${s.tone}`} />
          {s.name}
        </li>
      ))}
    </ul>
  );
}

/** The chart's numbers as a table, drawn only once opened (a day is 1,440 rows). */
function DataTable({ title, labels, series, format, labelHeading = "Minute" }: ChartProps) {
  const [open, setOpen] = useState(false);
  return (
    <details className="chart-table" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Show {title.toLowerCase()} as a table</summary>
      {open && (
        <div className="table-scroll">
          <table className="data-table">
            <caption className="visually-hidden">{title}</caption>
            <thead>
              <tr>
                <th scope="col">{labelHeading}</th>
                {series.map((s) => (
                  <th key={s.name} scope="col">
                    {s.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {labels.map((label, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the slots are the keys.
                <tr key={i}>
                  <th scope="row">{label}</th>
                  {series.map((s) => {
                    const v = s.values[i];
                    return <td key={s.name}>{v === null || v === undefined ? "–" : format(v)}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}

/**
 * Bars per slot, the series stacked (completed under failed). A figure named by the chart's
 * title, holding an SVG image named by a summary of its numbers (each bar titled with its
 * value), and the numbers as a table on demand.
 */
export function BarChart(props: ChartProps) {
  const { labels, series, format, emptyText } = props;
  if (isEmpty(series)) return <p className="chart-empty">{emptyText}</p>;
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = niceCeiling(Math.max(...totals));
  const band = PLOT_W / Math.max(1, labels.length);
  const barWidth = Math.max(1, band * 0.8);
  return (
    <figure className="chart" aria-label={props.title}>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={describeChart("bars", props)}
        className="chart-svg"
      >
        <Axes max={max} labels={labels} format={format} />
        {labels.map((label, i) => {
          let base = 0;
          const x = PAD.left + i * band + (band - barWidth) / 2;
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: the slots are the keys.
            <g key={i}>
              {series.map((s) => {
                const v = s.values[i] ?? 0;
                const h = (v / max) * PLOT_H;
                const y = PAD.top + PLOT_H - ((base + v) / max) * PLOT_H;
                base += v;
                if (v <= 0) return null;
                return (
                  <rect
                    key={s.name}
                    x={x}
                    y={y}
                    width={barWidth}
                    height={h}
                    className={`tone-${s.tone}`}
                  >
                    <title>{`${label}: ${s.name} ${format(v)}`}</title>
                  </rect>
                );
              })}
            </g>
          );
        })}
      </svg>
      <Legend series={series} />
      <DataTable {...props} />
    </figure>
  );
}

/** Lines through the slots' values (a gap where a value is missing); as accessible as the bars. */
export function LineChart(props: ChartProps) {
  const { labels, series, format, emptyText } = props;
  if (isEmpty(series)) return <p className="chart-empty">{emptyText}</p>;
  const values = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = niceCeiling(Math.max(...values));
  const band = PLOT_W / Math.max(1, labels.length);
  const xOf = (i: number) => PAD.left + (i + 0.5) * band;
  const yOf = (v: number) => PAD.top + PLOT_H - (v / max) * PLOT_H;
  return (
    <figure className="chart" aria-label={props.title}>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={describeChart("lines", props)}
        className="chart-svg"
      >
        <Axes max={max} labels={labels} format={format} />
        {series.map((s) => {
          let d = "";
          let pen = false;
          s.values.forEach((v, i) => {
            if (v === null) {
              pen = false;
              return;
            }
            d += `${pen ? "L" : "M"}${xOf(i).toFixed(1)},${yOf(v).toFixed(1)}`;
            pen = true;
          });
          return (
            <g key={s.name} className={`tone-${s.tone}`}>
              <path d={d} className="chart-line" />
              {s.values.map((v, i) =>
                v === null ? null : (
                  // biome-ignore lint/suspicious/noArrayIndexKey: the slots are the keys.
                  <circle key={i} cx={xOf(i)} cy={yOf(v)} r={labels.length > 90 ? 1.5 : 3}>
                    <title>{`${labels[i]}: ${s.name} ${format(v)}`}</title>
                  </circle>
                ),
              )}
            </g>
          );
        })}
      </svg>
      <Legend series={series} />
      <DataTable {...props} />
    </figure>
  );
}

/** Headline numbers with their labels (a `<dl>`). */
export function Figures({ items }: { items: readonly { label: string; value: string }[] }) {
  return (
    <dl className="figures">
      {items.map((item) => (
        <div key={item.label} className="figure">
          <dt>{item.label}</dt>
          <dd>{item.value}</dd>
        </div>
      ))}
    </dl>
  );
}

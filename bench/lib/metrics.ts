/** Reading the roles' Prometheus /metrics. */

/** The text of GET /metrics on `port`, or undefined when it does not answer 200. */
export async function fetchMetrics(port: number): Promise<string | undefined> {
  const answer = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
  return answer?.ok ? answer.text() : undefined;
}

/** Every sample of metric `name` (exact), its labels parsed. */
export function metricSamples(
  text: string,
  name: string,
): { labels: Record<string, string>; value: number }[] {
  const samples: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = l[2] as string;
    }
    samples.push({ labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of metric `name` by the value of `label` (e.g. published messages by destination). */
export function metricByLabel(text: string, name: string, label: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const s of metricSamples(text, name)) {
    const key = s.labels[label] ?? "";
    sums[key] = (sums[key] ?? 0) + s.value;
  }
  return sums;
}

/** Mean items per group commit, by batch kind (taskflow_group_commit_batch_size). */
export function groupCommitMeans(text: string): Record<string, { mean: number; count: number }> {
  const sums = metricByLabel(text, "taskflow_group_commit_batch_size_sum", "batch");
  const counts = metricByLabel(text, "taskflow_group_commit_batch_size_count", "batch");
  const means: Record<string, { mean: number; count: number }> = {};
  for (const [batch, count] of Object.entries(counts)) {
    if (count > 0) means[batch] = { mean: (sums[batch] ?? 0) / count, count };
  }
  return means;
}

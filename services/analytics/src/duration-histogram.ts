/**
 * Time-to-DONE is kept per minute as a histogram of log-spaced buckets (DDSketch's mapping):
 * bucket `b ≥ 1` holds the durations in (γ^(b-2), γ^(b-1)] ms with γ = (1 + α) / (1 - α), and
 * reports them as 2·γ^(b-1) / (γ + 1), which is within α of every value in the bucket.
 * Bucket 0 holds durations under 1 ms (a clock skew can even make them negative) and reports 0.
 *
 * So a percentile read from the histogram is the true nearest-rank percentile of the minute's
 * durations give or take α (1 %) of it, however many tasks the minute had; rounded to the
 * whole millisecond, durations under 50 ms come out exact (a bucket there is narrower than
 * 1 ms). A month-long duration is bucket ~1,090: a minute never holds more rows than that.
 */
export const DURATION_RELATIVE_ERROR = 0.01;

const GAMMA = (1 + DURATION_RELATIVE_ERROR) / (1 - DURATION_RELATIVE_ERROR);
const LN_GAMMA = Math.log(GAMMA);

/** The bucket of a duration in milliseconds. */
export function durationBucket(ms: number): number {
  if (!(ms >= 1)) return 0;
  return 1 + Math.ceil(Math.log(ms) / LN_GAMMA);
}

/** The value a bucket reports (ms): within DURATION_RELATIVE_ERROR of each of its durations. */
export function bucketValueMs(bucket: number): number {
  if (bucket <= 0) return 0;
  return (2 * GAMMA ** (bucket - 1)) / (GAMMA + 1);
}

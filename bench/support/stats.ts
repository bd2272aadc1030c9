/** Nearest-rank percentile of unsorted samples (ms). */
export function percentile(samples: number[], p: number): number {
  if (!samples.length) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Quick mode (BENCH_QUICK=1) scales counts and durations down for a smoke run. */
export const QUICK = process.env.BENCH_QUICK === '1';

export function scaled(full: number, quick: number): number {
  return QUICK ? quick : full;
}

/** Issue 9: `npm run bench` and `npm run drill` each run to the end within this on the 2-core machine. */
export const RUN_LIMIT_SECONDS = 600;

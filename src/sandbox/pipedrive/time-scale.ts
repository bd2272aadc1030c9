/** Compresses platform durations for tests: a scale of 0.001 turns 3 s into 3 ms. */
export function scaled(ms: number, timeScale: number): number {
  return ms * timeScale;
}

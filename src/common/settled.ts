/** The value of a settled promise, or its rejection thrown: for results of `Promise.allSettled` read one by one. */
export function settledValue<T>(settled: PromiseSettledResult<T>): T {
  if (settled.status === 'rejected') throw settled.reason;
  return settled.value;
}

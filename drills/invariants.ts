export interface Invariant {
  drill: string;
  name: string;
  ok: boolean;
  detail: string;
}

export function check(drill: string, name: string, ok: boolean, detail: string): Invariant {
  return { drill, name, ok, detail };
}

export function printTable(invariants: Invariant[]): void {
  const rows = invariants.map((invariant) => [invariant.ok ? 'PASS' : 'FAIL', invariant.drill, invariant.name, invariant.detail]);
  const widths = [4, ...[1, 2].map((column) => Math.max(...rows.map((row) => row[column].length)))];
  for (const row of rows) process.stdout.write(`${row.slice(0, 3).map((cell, index) => cell.padEnd(widths[index])).join('  ')}  ${row[3]}\n`);
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** `a × 3, b × 1`: how often each key occurs, most frequent first. */
export function countBy<T>(items: T[], key: (item: T) => string): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([name, count]) => `${name} × ${count}`).join(', ');
}

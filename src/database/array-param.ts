/**
 * An array parameter of a batched statement (`= ANY(…)`, `unnest(…)`), as SQL and value. PostgreSQL plans a
 * statement with an array parameter anew at every execution: a plan fitted to the array's length always looks
 * cheaper than the generic plan, which must assume ten elements. A batch of one, the usual case below saturation, is
 * sent as `ARRAY[$n]` around one value instead: its length is then in the statement, the generic plan is as cheap,
 * and each connection keeps it (see docs/performance.md, 12-05c). So each batched statement has two texts, both
 * named (`NamedStatementClient`).
 */
export function arrayParam(index: number, type: string, values: readonly unknown[]): { sql: string; value: unknown } {
  return values.length === 1 ? { sql: `ARRAY[$${index}::${type}]`, value: values[0] } : { sql: `$${index}::${type}[]`, value: values };
}

/** `arrayParam` for consecutive parameters from `$first`, one per column: their SQL joined by commas, and their values. */
export function arrayParams(first: number, columns: ReadonlyArray<[type: string, values: readonly unknown[]]>): { sql: string; values: unknown[] } {
  const params = columns.map(([type, values], offset) => arrayParam(first + offset, type, values));
  return { sql: params.map((param) => param.sql).join(', '), values: params.map((param) => param.value) };
}

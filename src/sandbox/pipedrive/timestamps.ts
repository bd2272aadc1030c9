/** v2 API timestamps: RFC 3339 in UTC, seconds precision (`2024-05-01T10:00:00Z`). */
export function rfc3339(date: Date | null): string | null {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : null;
}

/** v1 API timestamps: `2024-05-01 10:00:00` (UTC). */
export function v1DateTime(date: Date | null): string | null {
  return date ? date.toISOString().slice(0, 19).replace('T', ' ') : null;
}

export function utcDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

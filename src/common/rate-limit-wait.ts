/** The longest one answer may make us wait: Pipedrive's longest documented wait is a spent daily budget, until midnight. */
const MAX_WAIT_MS = 24 * 3600_000;
/** An HTTP date as RFC 9110 asks for it (IMF-fixdate); looser texts are not taken for dates. */
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * A rate-limit header's wait in ms, or null when it cannot be read. The vendors' units are unverified: a count of
 * seconds is our reading, a value that can only be a Unix time (10^9 or more; 10^12 or more in milliseconds) is read
 * as one, and a `Retry-After` may be an HTTP date.
 */
function readWaitMs(value: string | null | undefined, now: number): number | null {
  const text = value?.trim() ?? '';
  if (HTTP_DATE.test(text)) return Date.parse(text) - now;
  const number = text === '' ? NaN : Number(text);
  if (!Number.isFinite(number) || number < 0) return null;
  return number >= 1e12 ? number - now : number >= 1e9 ? number * 1000 - now : number * 1000;
}

/**
 * How long to wait after a rate-limit answer, in ms: the first of `headers` that can be read, else `fallbackMs`;
 * never less than `minMs` (a zero, or a time already past) and never more than a day, so a misread header cannot put
 * a company's work off for years.
 */
export function rateLimitWaitMs(headers: Array<string | null | undefined>, limits: { fallbackMs: number; minMs: number }, now = Date.now()): number {
  const ms = headers.map((value) => readWaitMs(value, now)).find((wait) => wait !== null) ?? limits.fallbackMs;
  return Math.max(limits.minMs, Math.min(MAX_WAIT_MS, Math.ceil(ms)));
}

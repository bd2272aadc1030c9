/** The longest one answer may make us wait: Pipedrive's longest documented wait is a spent daily budget, until midnight. */
const MAX_WAIT_MS = 24 * 3600_000;
const MIN_WAIT_MS = 250;

/**
 * How long a rate-limit header says to wait, in ms. The vendors' units are unverified: a count of seconds is our
 * reading, a value that can only be a Unix time (10^9 or more; 10^12 or more in milliseconds) is read as one, and a
 * `Retry-After` may be an HTTP date. Anything else (missing, no number, negative) is `fallbackMs`. The wait is at least
 * 250 ms and at most a day, so a misread header cannot put a company's work off for years.
 */
export function rateLimitWaitMs(value: string | null | undefined, fallbackMs: number, now = Date.now()): number {
  const text = value?.trim() ?? '';
  const number = text === '' ? NaN : Number(text);
  let ms: number;
  if (Number.isFinite(number) && number >= 0) ms = number >= 1e12 ? number - now : number >= 1e9 ? number * 1000 - now : number * 1000;
  else if (Number.isFinite(Date.parse(text)) && /[a-z]/i.test(text)) ms = Date.parse(text) - now;
  else ms = fallbackMs;
  return Math.max(MIN_WAIT_MS, Math.min(MAX_WAIT_MS, Math.ceil(ms)));
}

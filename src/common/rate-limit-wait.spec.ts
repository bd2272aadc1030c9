import { rateLimitWaitMs } from './rate-limit-wait';

describe('rateLimitWaitMs (rate-limit headers whose unit is unverified)', () => {
  const now = Date.UTC(2026, 11, 5, 12, 0, 0);

  it('reads a count of seconds', () => {
    expect(rateLimitWaitMs('2', 30_000, now)).toBe(2_000);
    expect(rateLimitWaitMs('0.5', 30_000, now)).toBe(500);
  });

  it('reads a Unix time in seconds or milliseconds as the moment to wait for', () => {
    expect(rateLimitWaitMs(String(now / 1000 + 3), 30_000, now)).toBe(3_000);
    expect(rateLimitWaitMs(String(now + 1_500), 30_000, now)).toBe(1_500);
  });

  it('reads an HTTP date (Retry-After)', () => {
    expect(rateLimitWaitMs(new Date(now + 10_000).toUTCString(), 30_000, now)).toBe(10_000);
  });

  it('waits the fallback for a missing or meaningless value', () => {
    for (const value of [null, undefined, '', ' ', 'soon', '-5', 'NaN']) expect(rateLimitWaitMs(value, 30_000, now)).toBe(30_000);
  });

  it('waits at least 250 ms and at most a day', () => {
    expect(rateLimitWaitMs('0', 30_000, now)).toBe(250);
    expect(rateLimitWaitMs(String(now / 1000 - 60), 30_000, now)).toBe(250);
    expect(rateLimitWaitMs(String(400 * 86_400), 30_000, now)).toBe(24 * 3600_000);
  });
});

import { rateLimitWaitMs } from './rate-limit-wait';

describe('rateLimitWaitMs (rate-limit headers whose unit is unverified)', () => {
  const now = Date.UTC(2026, 11, 5, 12, 0, 0);
  const limits = { fallbackMs: 30_000, minMs: 250 };

  it('reads a count of seconds', () => {
    expect(rateLimitWaitMs(['2'], limits, now)).toBe(2_000);
    expect(rateLimitWaitMs(['0.5'], limits, now)).toBe(500);
  });

  it('reads a Unix time in seconds or milliseconds as the moment to wait for', () => {
    expect(rateLimitWaitMs([String(now / 1000 + 3)], limits, now)).toBe(3_000);
    expect(rateLimitWaitMs([String(now + 1_500)], limits, now)).toBe(1_500);
  });

  it('reads an HTTP date (Retry-After), and no looser text as one', () => {
    expect(rateLimitWaitMs([new Date(now + 10_000).toUTCString()], limits, now)).toBe(10_000);
    expect(rateLimitWaitMs(['wait 30'], limits, now)).toBe(30_000);
  });

  it('takes the first header it can read, else the fallback', () => {
    expect(rateLimitWaitMs(['soon', '4'], limits, now)).toBe(4_000);
    expect(rateLimitWaitMs([undefined, '', '7'], limits, now)).toBe(7_000);
    for (const value of [null, undefined, '', ' ', 'soon', '-5', 'NaN', '2, 2']) expect(rateLimitWaitMs([value], limits, now)).toBe(30_000);
  });

  it('waits at least the minimum (a zero, a time already past) and at most a day', () => {
    expect(rateLimitWaitMs(['0'], limits, now)).toBe(250);
    expect(rateLimitWaitMs(['0'], { fallbackMs: 30_000, minMs: 5_000 }, now)).toBe(5_000);
    expect(rateLimitWaitMs([new Date(now - 60_000).toUTCString()], { fallbackMs: 30_000, minMs: 5_000 }, now)).toBe(5_000);
    expect(rateLimitWaitMs([String(now / 1000 - 60)], limits, now)).toBe(250);
    expect(rateLimitWaitMs([String(400 * 86_400)], limits, now)).toBe(24 * 3600_000);
  });
});

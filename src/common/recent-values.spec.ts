import { RecentValues } from './recent-values';

describe('RecentValues', () => {
  afterEach(() => jest.useRealTimers());

  it('keeps a value until its own deadline or the maximum age, whichever is sooner, and forgets deleted ones', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const values = new RecentValues<string>(30_000);
    values.set('soon', 'a', 1_000_000 + 5_000);
    values.set('late', 'b', 1_000_000 + 3_600_000);
    values.set('gone', 'c', 1_000_000 + 60_000);
    values.delete('gone');
    expect([values.get('soon'), values.get('late'), values.get('gone')]).toEqual(['a', 'b', undefined]);
    jest.setSystemTime(1_000_000 + 5_000);
    expect([values.get('soon'), values.get('late')]).toEqual([undefined, 'b']);
    jest.setSystemTime(1_000_000 + 30_000);
    expect(values.get('late')).toBeUndefined();
  });

  it('keeps at most maxEntries, dropping the one set longest ago', () => {
    const values = new RecentValues<number>(60_000, 2);
    values.set('a', 1, Number.POSITIVE_INFINITY);
    values.set('b', 2, Number.POSITIVE_INFINITY);
    values.set('a', 3, Number.POSITIVE_INFINITY);
    values.set('c', 4, Number.POSITIVE_INFINITY);
    expect([values.get('a'), values.get('b'), values.get('c')]).toEqual([3, undefined, 4]);
  });
});

import { vendorTime } from './dottedsign.client';

describe('vendorTime (DottedSign times)', () => {
  it.each([
    [1704067200, '2024-01-01T00:00:00.000Z'],
    ['1704067200', '2024-01-01T00:00:00.000Z'],
    [1704067200123, '2024-01-01T00:00:00.123Z'],
    ['2024-01-01T16:00:00+08:00', '2024-01-01T08:00:00.000Z'],
    ['2024-01-01T08:00:00Z', '2024-01-01T08:00:00.000Z'],
  ])('%j → %s', (value, iso) => {
    expect(vendorTime(value)?.toISOString()).toBe(iso);
  });

  it.each([null, undefined, '', 'yesterday', 0, -5, {}])('%j → null', (value) => {
    expect(vendorTime(value)).toBeNull();
  });
});

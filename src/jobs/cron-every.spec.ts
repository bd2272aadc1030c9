import { cronEvery } from './cron-every';

describe('cronEvery', () => {
  it('steps minutes below an hour, hours below a day, and runs daily from a day on', () => {
    expect(cronEvery(30)).toBe('* * * * *');
    expect(cronEvery(60)).toBe('* * * * *');
    expect(cronEvery(300)).toBe('*/5 * * * *');
    expect(cronEvery(3540)).toBe('*/59 * * * *');
    expect(cronEvery(3600)).toBe('0 */1 * * *');
    expect(cronEvery(6 * 3600)).toBe('0 */6 * * *');
    expect(cronEvery(86400)).toBe('0 0 * * *');
  });
});

/**
 * A cron expression that runs about every `seconds`: whole minutes below an hour, whole hours below a day, then
 * daily. Cron steps count within their field, so a minute step of 60 or more would run hourly, and a step that does
 * not divide the hour (or the day) starts again at its top, a shorter last gap.
 */
export function cronEvery(seconds: number): string {
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes === 1) return '* * * * *';
  if (minutes < 60) return `*/${minutes} * * * *`;
  const hours = Math.round(minutes / 60);
  return hours < 24 ? `0 */${hours} * * *` : '0 0 * * *';
}

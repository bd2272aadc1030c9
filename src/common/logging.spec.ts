import { redactUrl } from './logging';

describe('redactUrl', () => {
  it('hides credentials in query strings and keeps the rest', () => {
    expect(redactUrl('/auth/pipedrive/callback?code=abc&state=xyz')).toBe('/auth/pipedrive/callback?code=[redacted]&state=[redacted]');
    expect(redactUrl('/panel?id=1&token=eyJ.x.y&theme=dark')).toBe('/panel?id=1&token=[redacted]&theme=dark');
    expect(redactUrl('/healthz')).toBe('/healthz');
  });
});

import pino from 'pino';
import { Writable } from 'node:stream';
import { REDACTION, redactUrl } from './logging';

describe('redactUrl', () => {
  it('hides credentials in query strings and keeps the rest', () => {
    expect(redactUrl('/auth/pipedrive/callback?code=abc&state=xyz')).toBe('/auth/pipedrive/callback?code=[redacted]&state=[redacted]');
    expect(redactUrl('/panel?id=1&token=eyJ.x.y&theme=dark')).toBe('/panel?id=1&token=[redacted]&theme=dark');
    expect(redactUrl('/healthz')).toBe('/healthz');
  });
});

describe('log redaction', () => {
  it('hides secrets at the top of a line (nestjs-pino merges a logged object there) and one level down', () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ redact: REDACTION }, sink);
    logger.warn({ user: 'a', password: 'hunter2', grant: { refresh_token: 'r1', scope: 'deals' } }, 'connected');
    logger.info({ req: { headers: { authorization: 'Basic c2VjcmV0', accept: '*/*' } } }, 'request');
    expect(lines[0]).toMatchObject({ user: 'a', password: '[redacted]', grant: { refresh_token: '[redacted]', scope: 'deals' } });
    expect(lines[1]).toMatchObject({ req: { headers: { authorization: '[redacted]', accept: '*/*' } } });
    expect(JSON.stringify(lines)).not.toMatch(/hunter2|r1"|c2VjcmV0/);
  });
});

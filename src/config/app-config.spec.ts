import { randomBytes } from 'node:crypto';
import { ConfigError, parseConfig } from './app-config';

const key = randomBytes(32).toString('base64');

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('parseConfig', () => {
  it('runs in sandbox mode without Pipedrive credentials outside production', () => {
    const config = parseConfig({}, () => key);
    expect(config.sandbox).toBe(true);
    expect(config.port).toBe(3000);
    expect(config.appUrl).toBe('http://localhost:3000');
    expect(config.pipedrive.oauthUrl).toBe('https://oauth.pipedrive.com');
    expect(config.panelFrameAncestors).toEqual(['https://*.pipedrive.com']);
    expect(config.encryption.currentKey).toHaveLength(32);
  });

  it('lists every missing variable at once in production', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    for (const name of [
      'ENCRYPTION_KEY',
      'APP_URL',
      'DATABASE_URL',
      'PIPEDRIVE_CLIENT_ID',
      'PIPEDRIVE_CLIENT_SECRET',
      'DOTTEDSIGN_CLIENT_ID',
      'DOTTEDSIGN_CLIENT_SECRET',
    ]) {
      expect(problems.join('\n')).toContain(name);
    }
  });

  it('reports malformed values by name', () => {
    const problems = problemsOf({ PORT: 'eighty', ENCRYPTION_KEY: 'short', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['DATABASE_URL', 'ENCRYPTION_KEY', 'LOG_LEVEL', 'PORT']);
  });

  it('reports malformed and missing values together, so one start shows everything to fix', () => {
    const problems = problemsOf({ NODE_ENV: 'production', PORT: 'eighty', PIPEDRIVE_CLIENT_ID: 'id' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'APP_URL',
      'DATABASE_URL',
      'DOTTEDSIGN_CLIENT_ID',
      'DOTTEDSIGN_CLIENT_SECRET',
      'ENCRYPTION_KEY',
      'PIPEDRIVE_CLIENT_SECRET',
      'PORT',
    ]);
  });

  it('keeps finished inbox events 30 days unless told otherwise, and at least a day', () => {
    expect(parseConfig({}, () => key).inboxRetentionDays).toBe(30);
    expect(parseConfig({ INBOX_RETENTION_DAYS: '90' }, () => key).inboxRetentionDays).toBe(90);
    expect(problemsOf({ ENCRYPTION_KEY: key, INBOX_RETENTION_DAYS: '0' }).map((problem) => problem.split(':')[0])).toEqual(['INBOX_RETENTION_DAYS']);
  });

  it('sizes the connection pool and the inbox workers together, keeping connections free for webhooks', () => {
    expect(parseConfig({}, () => key)).toMatchObject({ database: { poolSize: 40 }, inboxWorkers: 28 });
    expect(parseConfig({ DATABASE_POOL_SIZE: '16', INBOX_WORKERS: '4' }, () => key)).toMatchObject({ database: { poolSize: 16 }, inboxWorkers: 4 });
    expect(problemsOf({ ENCRYPTION_KEY: key, DATABASE_POOL_SIZE: '16' })).toEqual([
      'INBOX_WORKERS: at most DATABASE_POOL_SIZE - 12 (4), so webhooks never wait for a connection behind inbox jobs',
    ]);
    expect(problemsOf({ ENCRYPTION_KEY: key, DATABASE_POOL_SIZE: '8', INBOX_WORKERS: '0' }).map((p) => p.split(':')[0]).sort()).toEqual(['DATABASE_POOL_SIZE', 'INBOX_WORKERS']);
  });

  it('requires DottedSign credentials once Pipedrive credentials are set', () => {
    const problems = problemsOf({ PIPEDRIVE_CLIENT_ID: 'id', PIPEDRIVE_CLIENT_SECRET: 'secret', ENCRYPTION_KEY: key });
    expect(problems).toEqual([
      'DOTTEDSIGN_CLIENT_ID: required when Pipedrive credentials are set',
      'DOTTEDSIGN_CLIENT_SECRET: required when Pipedrive credentials are set',
    ]);
  });

  it('says when the encryption key is the generated one, so the start can warn a set-up with real credentials', () => {
    const withPipedrive = { PIPEDRIVE_CLIENT_ID: 'id', PIPEDRIVE_CLIENT_SECRET: 'secret', DOTTEDSIGN_CLIENT_ID: 'ds-id', DOTTEDSIGN_CLIENT_SECRET: 'ds-secret' };
    expect(parseConfig(withPipedrive, () => key).encryption).toMatchObject({ generated: true, currentKey: Buffer.from(key, 'base64') });
    expect(parseConfig({ ...withPipedrive, ENCRYPTION_KEY: key }, () => 'unused').encryption.generated).toBe(false);
  });

  it('offers the DottedSign application account to companies only in sandbox mode unless told otherwise', () => {
    const withPipedrive = { ENCRYPTION_KEY: key, PIPEDRIVE_CLIENT_ID: 'id', PIPEDRIVE_CLIENT_SECRET: 'secret', DOTTEDSIGN_CLIENT_ID: 'ds-id', DOTTEDSIGN_CLIENT_SECRET: 'ds-secret' };
    expect(parseConfig({}, () => key).dottedsign.appAccount).toBe(true);
    expect(parseConfig({ DOTTEDSIGN_APP_ACCOUNT: 'false' }, () => key).dottedsign.appAccount).toBe(false);
    expect(parseConfig(withPipedrive).dottedsign.appAccount).toBe(false);
    expect(parseConfig({ ...withPipedrive, DOTTEDSIGN_APP_ACCOUNT: 'true' }).dottedsign.appAccount).toBe(true);
    expect(problemsOf({ ENCRYPTION_KEY: key, DOTTEDSIGN_APP_ACCOUNT: 'yes' })).toEqual(['DOTTEDSIGN_APP_ACCOUNT: must be "true" or "false"']);
  });

  it('turns schedules into jobs unless told not to', () => {
    expect(parseConfig({}, () => key).runPeriodicJobs).toBe(true);
    expect(parseConfig({ RUN_PERIODIC_JOBS: 'false' }, () => key).runPeriodicJobs).toBe(false);
    expect(problemsOf({ ENCRYPTION_KEY: key, RUN_PERIODIC_JOBS: 'off' })).toEqual(['RUN_PERIODIC_JOBS: must be "true" or "false"']);
  });

  it('accepts a complete production configuration and defaults the JWT secret to the client secret', () => {
    const config = parseConfig({
      NODE_ENV: 'production',
      APP_URL: 'https://app.example.com/',
      DATABASE_URL: 'postgres://u@db/app',
      ENCRYPTION_KEY: key,
      PIPEDRIVE_CLIENT_ID: 'pd-id',
      PIPEDRIVE_CLIENT_SECRET: 'pd-secret',
      DOTTEDSIGN_CLIENT_ID: 'ds-id',
      DOTTEDSIGN_CLIENT_SECRET: 'ds-secret',
      PANEL_FRAME_ANCESTORS: 'https://*.pipedrive.com https://extra.example.com',
    });
    expect(config.sandbox).toBe(false);
    expect(config.dottedsign.appAccount).toBe(false);
    expect(config.appUrl).toBe('https://app.example.com');
    expect(config.pipedrive.jwtSecret).toBe('pd-secret');
    expect(config.panelFrameAncestors).toHaveLength(2);
  });
});

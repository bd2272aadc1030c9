import { z } from 'zod';

/** The validated configuration of one app process; built once at boot by loadConfig(). */
export interface AppConfig {
  env: 'production' | 'development' | 'test';
  port: number;
  appUrl: string;
  /** Unset: the embedded PostgreSQL under dataDir is started and its URL filled in before Nest boots. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** `generated`: no ENCRYPTION_KEY was set, so the key is the one kept in DATA_DIR (outside production only). */
  encryption: { currentKey: Buffer; previousKeys: Buffer[]; generated: boolean };
  /** True when no Pipedrive credentials are set outside production: the app wires itself to the simulators. */
  sandbox: boolean;
  pipedrive: { clientId: string; clientSecret: string; jwtSecret: string; oauthUrl: string };
  /** `appAccount`: companies may connect the DottedSign application's own account (single-tenant deployments, the sandbox). */
  dottedsign: { clientId: string; clientSecret: string; apiUrl: string; appAccount: boolean };
  panelFrameAncestors: string[];
  /** Each cycle checks at most `perCycle` open contracts, at most `perCompany` of one company (API budget share). */
  reconcile: { intervalSeconds: number; perCycle: number; perCompany: number; dealsIntervalSeconds: number };
  /** Connections of the app's own pool per process (pg-boss keeps 5 more), and inbox jobs run at once. */
  database: { poolSize: number };
  inboxWorkers: number;
  /** Finished inbox events are deleted this many days after they arrived. */
  inboxRetentionDays: number;
  /**
   * False: this process turns no schedule into jobs (reconciliation, the webhook check, retention), though it still
   * runs such jobs when another process or a caller sends them. Tests run them themselves, when they mean to.
   */
  runPeriodicJobs: boolean;
  logLevel: string;
  bodyLimitBytes: number;
}

/**
 * Contracts a reconciliation cycle checks at once. Each check waits on two vendors in turn, so one at a time leaves a
 * cycle of hundreds taking minutes; four keep well inside Pipedrive's smallest burst limit (80 requests in 2 s per token).
 */
export const RECONCILE_CHECKS_AT_ONCE = 4;

/**
 * Pool connections kept free of inbox jobs (each holds one for its transaction): 8 for webhooks, the panel and the
 * shared batch reads, and one for each reconciliation check (which may hold one through a deal's lock).
 */
export const RESERVED_CONNECTIONS = 8 + RECONCILE_CHECKS_AT_ONCE;

export const CONFIG = Symbol('AppConfig');

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const url = (name: string) =>
  z
    .string()
    .trim()
    .refine((value) => /^https?:\/\//.test(value) && URL.canParse(value), `${name} must be an http(s) URL`);

const base64Key = z
  .string()
  .trim()
  .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes, base64-encoded');

const envSchema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  APP_URL: optionalString.pipe(url('APP_URL').optional()),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .refine((value) => /^postgres(ql)?:\/\//.test(value), 'DATABASE_URL must be a postgres:// URL')
      .optional(),
  ),
  DATA_DIR: z.string().trim().min(1).default('./.data'),
  ENCRYPTION_KEY: optionalString.pipe(base64Key.optional()),
  ENCRYPTION_PREVIOUS_KEYS: optionalString,
  PIPEDRIVE_CLIENT_ID: optionalString,
  PIPEDRIVE_CLIENT_SECRET: optionalString,
  PIPEDRIVE_JWT_SECRET: optionalString,
  PIPEDRIVE_OAUTH_URL: url('PIPEDRIVE_OAUTH_URL').default('https://oauth.pipedrive.com'),
  DOTTEDSIGN_CLIENT_ID: optionalString,
  DOTTEDSIGN_CLIENT_SECRET: optionalString,
  DOTTEDSIGN_API_URL: url('DOTTEDSIGN_API_URL').default('https://api.dottedsign.com'),
  DOTTEDSIGN_APP_ACCOUNT: optionalString.pipe(z.enum(['true', 'false'], 'must be "true" or "false"').optional()),
  PANEL_FRAME_ANCESTORS: z.string().trim().min(1).default('https://*.pipedrive.com'),
  RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(10).max(86400).default(300),
  RECONCILE_MAX_PER_CYCLE: z.coerce.number().int().min(1).max(10000).default(200),
  RECONCILE_MAX_PER_COMPANY: z.coerce.number().int().min(1).max(10000).default(50),
  RECONCILE_DEALS_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86400).default(1800),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(RESERVED_CONNECTIONS + 1).max(500).default(40),
  INBOX_WORKERS: z.coerce.number().int().min(1).max(256).default(28),
  INBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  RUN_PERIODIC_JOBS: z.enum(['true', 'false'], 'must be "true" or "false"').default('true'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type RawEnv = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

/**
 * Validates the environment. Every problem is collected so a broken deployment is fixed in one go.
 * `generatedKey` supplies ENCRYPTION_KEY outside production (kept in DATA_DIR by the caller).
 */
export function parseConfig(env: RawEnv, generatedKey?: () => string): AppConfig {
  // Missing values are found on the raw environment, so they are reported together with malformed ones.
  const present = (name: keyof z.input<typeof envSchema>) => Boolean(env[name]?.trim());
  const production = env.NODE_ENV?.trim() === 'production';
  const hasPipedrive = present('PIPEDRIVE_CLIENT_ID') || present('PIPEDRIVE_CLIENT_SECRET');
  const sandbox = !production && !hasPipedrive;
  const problems: string[] = [];
  const require = (name: keyof z.input<typeof envSchema>, why: string) => {
    if (!present(name)) problems.push(`${name}: required ${why}`);
  };
  if (production) {
    require('ENCRYPTION_KEY', 'in production');
    require('APP_URL', 'in production');
    require('DATABASE_URL', 'in production');
  }
  if (production || hasPipedrive) {
    const why = production ? 'in production' : 'when Pipedrive credentials are set';
    require('PIPEDRIVE_CLIENT_ID', why);
    require('PIPEDRIVE_CLIENT_SECRET', why);
    require('DOTTEDSIGN_CLIENT_ID', why);
    require('DOTTEDSIGN_CLIENT_SECRET', why);
  }
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError([...parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`), ...problems]);
  }
  const e = parsed.data;
  if (production && e.APP_URL && !e.APP_URL.startsWith('https://')) {
    problems.push('APP_URL: must be https in production (Pipedrive only frames and calls HTTPS URLs)');
  }
  const previousKeys = (e.ENCRYPTION_PREVIOUS_KEYS ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  previousKeys.forEach((key, index) => {
    if (!base64Key.safeParse(key).success) problems.push(`ENCRYPTION_PREVIOUS_KEYS[${index}]: must be 32 bytes, base64-encoded`);
  });
  if (e.INBOX_WORKERS > e.DATABASE_POOL_SIZE - RESERVED_CONNECTIONS) {
    problems.push(`INBOX_WORKERS: at most DATABASE_POOL_SIZE - ${RESERVED_CONNECTIONS} (${e.DATABASE_POOL_SIZE - RESERVED_CONNECTIONS}), so webhooks never wait for a connection behind inbox jobs`);
  }
  if (problems.length) throw new ConfigError(problems);

  const encryptionKey = e.ENCRYPTION_KEY ?? generatedKey?.();
  if (!encryptionKey) throw new ConfigError(['ENCRYPTION_KEY: required']);
  const appUrl = (e.APP_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const pipedriveSecret = e.PIPEDRIVE_CLIENT_SECRET ?? '';

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    appUrl,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    encryption: {
      currentKey: Buffer.from(encryptionKey, 'base64'),
      previousKeys: previousKeys.map((key) => Buffer.from(key, 'base64')),
      generated: e.ENCRYPTION_KEY === undefined,
    },
    sandbox,
    pipedrive: {
      clientId: e.PIPEDRIVE_CLIENT_ID ?? '',
      clientSecret: pipedriveSecret,
      jwtSecret: e.PIPEDRIVE_JWT_SECRET ?? pipedriveSecret,
      oauthUrl: e.PIPEDRIVE_OAUTH_URL.replace(/\/+$/, ''),
    },
    dottedsign: {
      clientId: e.DOTTEDSIGN_CLIENT_ID ?? '',
      clientSecret: e.DOTTEDSIGN_CLIENT_SECRET ?? '',
      apiUrl: e.DOTTEDSIGN_API_URL.replace(/\/+$/, ''),
      appAccount: e.DOTTEDSIGN_APP_ACCOUNT === undefined ? sandbox : e.DOTTEDSIGN_APP_ACCOUNT === 'true',
    },
    panelFrameAncestors: e.PANEL_FRAME_ANCESTORS.split(/[\s,]+/).filter(Boolean),
    reconcile: { intervalSeconds: e.RECONCILE_INTERVAL_SECONDS, perCycle: e.RECONCILE_MAX_PER_CYCLE, perCompany: e.RECONCILE_MAX_PER_COMPANY, dealsIntervalSeconds: e.RECONCILE_DEALS_INTERVAL_SECONDS },
    database: { poolSize: e.DATABASE_POOL_SIZE },
    inboxWorkers: e.INBOX_WORKERS,
    inboxRetentionDays: e.INBOX_RETENTION_DAYS,
    runPeriodicJobs: e.RUN_PERIODIC_JOBS === 'true',
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: 1024 * 1024,
  };
}

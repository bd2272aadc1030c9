import { config as readDotenv } from 'dotenv';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AppConfig, type RawEnv, parseConfig } from './app-config';

/** Outside production the encryption key is generated once and kept beside the embedded database. */
function keptKey(dataDir: string): string {
  const file = join(dataDir, 'encryption.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return key;
}

/** Reads `.env` (without overriding the real environment) and validates it. */
export function loadConfig(env: RawEnv = process.env, options: { readEnvFile?: boolean } = {}): AppConfig {
  if (options.readEnvFile ?? true) readDotenv({ quiet: true, processEnv: env as Record<string, string> });
  return parseConfig(env, () => keptKey(env.DATA_DIR?.trim() || './.data'));
}

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The client ids and secrets the app and the two simulators share in sandbox mode. */
export interface SandboxCredentials {
  pipedriveClientId: string;
  pipedriveClientSecret: string;
  dottedsignClientId: string;
  dottedsignClientSecret: string;
}

/** Generated on the first sandbox start and kept in DATA_DIR (owner-only), like the encryption key. */
export function sandboxCredentials(dataDir: string): SandboxCredentials {
  const file = join(dataDir, 'sandbox-credentials.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SandboxCredentials;
  const credentials: SandboxCredentials = {
    pipedriveClientId: `sandbox-${randomBytes(6).toString('hex')}`,
    pipedriveClientSecret: randomBytes(24).toString('hex'),
    dottedsignClientId: `sandbox-${randomBytes(6).toString('hex')}`,
    dottedsignClientSecret: randomBytes(24).toString('hex'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return credentials;
}

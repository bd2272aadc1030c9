import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh directory inside the test run's own (global-setup.ts makes it, global-teardown.ts removes it with all it
 * holds): an embedded cluster a test starts takes about 65 MB, and a run leaves none behind.
 */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(process.env.TEST_SCRATCH_DIR ?? tmpdir(), `${prefix}-`));
}

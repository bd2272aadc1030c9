import type { DataSource } from 'typeorm';

/** Arbitrary constant: the advisory lock that lets one process at a time run migrations. */
const MIGRATION_LOCK = 7_310_422_001;

/**
 * Runs pending migrations while holding a session advisory lock, so several app processes starting
 * against one database apply each migration once and the others wait for it.
 */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.release();
  }
}

import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SecretBox } from '../common/secret-box';
import { JobQueue } from '../jobs/job-queue.service';
import { SEALED_TABLES } from './sealed-tokens';

export const RESEAL_SECRETS = 'secrets.reseal';

const BATCH = 500;

/**
 * After a key rotation (`ENCRYPTION_KEY` new, the old one in `ENCRYPTION_PREVIOUS_KEYS`), values are re-sealed only
 * when they change, and some never do: the tokens of an installation Pipedrive refused, a DottedSign refresh token
 * its refreshes do not replace. A job re-seals every value that names an older key, at each boot (a rotation is a
 * restart with new settings) and daily, so once it has logged its run the old key can be dropped. Values
 * sealed before they were bound to their place (format v1, which opens in any row) are re-sealed the same way, at
 * the first boot of the version that binds them. A value changed meanwhile (a refresh) is left to the change.
 */
@Injectable()
export class SecretsReseal implements OnApplicationBootstrap {
  private readonly logger = new Logger(SecretsReseal.name);

  constructor(
    private readonly jobs: JobQueue,
    private readonly dataSource: DataSource,
    private readonly box: SecretBox,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.scheduled(RESEAL_SECRETS, '29 3 * * *', () => this.reseal());
    await this.jobs.send(RESEAL_SECRETS, {});
  }

  /** Re-seals the values sealed with an older key or format; answers how many were re-sealed and how many no key opens. */
  async reseal(): Promise<{ resealed: number; unreadable: number }> {
    let resealed = 0;
    let unreadable = 0;
    for (const { table, key, owner, columns, place } of SEALED_TABLES) {
      const stale = columns.map((column) => `NOT starts_with(${column}, $1)`).join(' OR ');
      for (let after = '0'; ; ) {
        const rows = (await this.dataSource.query(
          `SELECT ${key}::text AS id, ${owner.map((column) => `${column}::text`).join(', ')}, ${columns.join(', ')} FROM ${table} WHERE (${stale}) AND ${key} > $2 ORDER BY ${key} LIMIT $3`,
          [`${this.box.currentHeader}.`, after, BATCH],
        )) as Array<Record<string, string | null>>;
        for (const row of rows) {
          for (const column of columns) {
            const sealed = row[column];
            if (!sealed || !this.box.isStale(sealed)) continue;
            let fresh: string;
            try {
              fresh = this.box.encrypt(this.box.decrypt(sealed, place(row, column)), place(row, column));
            } catch {
              unreadable += 1;
              continue;
            }
            // Compare and set: a refresh that wrote a new value meanwhile keeps it.
            const [{ count }] = (await this.dataSource.query(
              `WITH changed AS (UPDATE ${table} SET ${column} = $1 WHERE ${key} = $2 AND ${column} = $3 RETURNING 1) SELECT count(*)::int AS count FROM changed`,
              [fresh, row.id, sealed],
            )) as Array<{ count: number }>;
            resealed += count;
          }
        }
        if (rows.length < BATCH) break;
        after = rows[rows.length - 1].id!;
      }
    }
    // Logged even when nothing changed: dropping an old key waits for a run that says every value is sealed with the
    // current one.
    this.logger.log(`re-sealed ${resealed} secrets: all readable ones are now sealed as ${this.box.currentHeader}`);
    if (unreadable) {
      this.logger.error(
        `${unreadable} sealed secrets cannot be read: they name a key that is neither ENCRYPTION_KEY nor in ENCRYPTION_PREVIOUS_KEYS, or were altered or moved from another row`,
      );
    }
    return { resealed, unreadable };
  }
}

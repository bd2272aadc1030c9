import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each inbox row is updated once, soon after its insert, when its outcome is recorded; no index covers the outcome's
 * columns, so that update can stay on the row's page (a HOT update) if the page has room. Filled to half, a page
 * keeps room for its rows' outcomes: every outcome is written in place, with no new index entries, and the dead
 * versions are pruned from the page, so the table ends no larger than when each update moved its row elsewhere.
 * Existing pages are left as they are; pages added from now on are filled to half.
 */
export class InboxFillfactor1764770000000 implements MigrationInterface {
  name = 'InboxFillfactor1764770000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE inbox_events SET (fillfactor = 50)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE inbox_events RESET (fillfactor)');
  }
}

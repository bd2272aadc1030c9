import type { DataSource, EntityTarget } from 'typeorm';

/**
 * Turns rows of a plain `SELECT *` into entity instances, by the entity's column metadata. For hot reads by key:
 * TypeORM's `findOneBy` builds and escapes its SQL anew on every call, which the end-to-end profile showed as a
 * tenth of the app's CPU. The node-postgres type parsers already give what the entities declare (bigint as
 * string, jsonb as objects, timestamptz as Date, text[] as arrays).
 */
export function entityRows<T>(dataSource: DataSource, target: EntityTarget<T>): (rows: Array<Record<string, unknown>>) => T[] {
  const metadata = dataSource.getMetadata(target);
  const columns = metadata.columns.map((column) => [column.databaseName, column.propertyName] as const);
  return (rows) =>
    rows.map((row) => {
      const entity = metadata.create() as Record<string, unknown>;
      for (const [databaseName, propertyName] of columns) entity[propertyName] = row[databaseName];
      return entity as T;
    });
}

import type { DataSourceOptions } from 'typeorm';
import { entities } from './entities';
import { migrations } from './migrations';
import { NamedStatementClient } from './named-statements';
import { SnakeNamingStrategy } from './snake-naming.strategy';

/** `poolSize`: the app passes DATABASE_POOL_SIZE; the migration CLI and tests keep node-postgres's default. */
export function dataSourceOptions(url: string, poolSize = 10): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsTableName: 'migrations',
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    extra: { max: poolSize, connectionTimeoutMillis: 5000, application_name: 'pipedrive-dottedsign', Client: NamedStatementClient },
  };
}

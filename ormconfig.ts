import 'reflect-metadata';
import { config as readDotenv } from 'dotenv';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './src/database/data-source-options';

readDotenv({ quiet: true });

const url = process.env.DATABASE_URL;
if (!url) {
  throw new Error('The TypeORM CLI needs DATABASE_URL (the app itself starts an embedded PostgreSQL when it is unset).');
}

/** The DataSource the TypeORM CLI uses for migration:generate, migration:run and migration:revert. */
export default new DataSource(dataSourceOptions(url));

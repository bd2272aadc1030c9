import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { type AppConfig, CONFIG } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';
import { runMigrations } from './migrator';
import { TransactionRunner } from './transaction-runner';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [CONFIG],
      useFactory: (config: AppConfig) => ({ ...dataSourceOptions(requireUrl(config), config.database.poolSize), retryAttempts: 2, retryDelay: 1000 }),
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        await runMigrations(dataSource);
        return dataSource;
      },
    }),
  ],
  providers: [TransactionRunner],
  exports: [TransactionRunner],
})
export class DatabaseModule {}

function requireUrl(config: AppConfig): string {
  if (!config.databaseUrl) throw new Error('databaseUrl must be resolved (embedded PostgreSQL started) before the app boots');
  return config.databaseUrl;
}

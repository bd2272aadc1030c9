import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { createApp } from './app.factory';
import { type AppConfig, ConfigError } from './config/app-config';
import { loadConfig } from './config/load-config';
import { startAppDatabase } from './database/embedded-database';
import type { EmbeddedDatabase } from './database/embedded-postgres.launcher';

const logger = new Logger('Main');

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  let embedded: EmbeddedDatabase | undefined;
  let app: INestApplication | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await app?.close().catch((error) => logger.error(`shutdown: ${String(error)}`));
    await embedded?.stop().catch((error) => logger.error(`stopping embedded PostgreSQL: ${String(error)}`));
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  process.on('uncaughtException', (error) => {
    process.stderr.write(`uncaught exception: ${error.stack ?? error.message}\n`);
    void stop(1);
  });
  process.on('unhandledRejection', (reason) => logger.error(`unhandled rejection: ${String(reason)}`));

  try {
    if (!config.databaseUrl) {
      const database = await startAppDatabase(config.dataDir);
      embedded = database.server;
      config = { ...config, databaseUrl: database.url };
      logger.log(`embedded PostgreSQL started: ${database.url} (data in ${config.dataDir}/postgres)`);
    }
    app = await createApp(config);
    await app.listen(config.port);
    logger.log(`listening on ${config.appUrl}${config.sandbox ? ' (sandbox mode: no Pipedrive credentials set)' : ''}`);
  } catch (error) {
    // Written synchronously: the async log transport may not flush before the process exits.
    process.stderr.write(`start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await stop(1);
  }
}

void main();

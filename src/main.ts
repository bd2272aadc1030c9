import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { createApp } from './app.factory';
import { type AppConfig, ConfigError } from './config/app-config';
import { loadConfig } from './config/load-config';
import { startAppDatabase } from './database/embedded-database';
import type { EmbeddedDatabase } from './database/embedded-postgres.launcher';
import { type SandboxWorld, startSandboxWorld } from './sandbox/sandbox-mode';

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

  if (config.encryption.generated && !config.sandbox) {
    // Real credentials with no key of their own: a development set-up, or a deployment that forgot NODE_ENV=production.
    logger.warn(
      `ENCRYPTION_KEY is not set: stored tokens are sealed with a key generated in ${config.dataDir}/encryption.key, and are lost with that file. Set ENCRYPTION_KEY (and NODE_ENV=production) for a real deployment.`,
    );
  }

  let embedded: EmbeddedDatabase | undefined;
  let app: INestApplication | undefined;
  let sandbox: SandboxWorld | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await app?.close().catch((error) => logger.error(`shutdown: ${String(error)}`));
    await sandbox?.close().catch((error) => logger.error(`stopping the simulators: ${String(error)}`));
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
      // The sandbox's simulators start empty every time, so its database does too.
      const database = await startAppDatabase(config.dataDir, config.sandbox ? { database: 'sandbox', fresh: true } : {});
      embedded = database.server;
      config = { ...config, databaseUrl: database.url };
      const shown = new URL(database.url);
      shown.password = '';
      logger.log(`embedded PostgreSQL started: ${shown} (data in ${config.dataDir}/postgres)`);
    }
    if (config.sandbox) {
      sandbox = await startSandboxWorld(config);
      config = sandbox.config;
    }
    app = await createApp(config);
    await app.listen(config.port);
    logger.log(`listening on ${config.appUrl}`);
    if (sandbox) {
      await sandbox.prepare();
      process.stdout.write(`\nSandbox mode (no Pipedrive credentials set). Open the sandbox console:\n\n    ${sandbox.consoleUrl}\n\nCtrl-C stops everything.\n\n`);
    }
  } catch (error) {
    // Written synchronously: the async log transport may not flush before the process exits.
    process.stderr.write(`start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await stop(1);
  }
}

void main();

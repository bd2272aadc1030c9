import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/database/embedded-postgres.launcher';

export const LOCAL_SERVER_URL = process.env.BENCH_LOCAL_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A PostgreSQL server a benchmark gets a fresh database on. */
export interface DatabaseServer {
  name: 'local server' | 'embedded';
  createDatabase(): Promise<FreshDatabase>;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function databasesOn(adminUrl: string): (prefix: string) => Promise<FreshDatabase> {
  return async (prefix) => {
    const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
    return { url: withDatabase(adminUrl, name), drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
  };
}

export function localServer(): DatabaseServer {
  const create = databasesOn(LOCAL_SERVER_URL);
  return { name: 'local server', createDatabase: () => create('bench'), close: async () => undefined };
}

/** An embedded cluster in a temp dir; `restart` keeps data and port, so connected apps can reconnect to it. */
export interface EmbeddedServer extends DatabaseServer {
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function embeddedServer(): Promise<EmbeddedServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pdds-bench-pg-'));
  let server: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir, persistent: true });
  const port = Number(new URL(server.adminUrl).port);
  const create = databasesOn(server.adminUrl);
  let running = true;
  return {
    name: 'embedded',
    createDatabase: () => create('bench'),
    stop: async () => {
      await server.stop();
      running = false;
    },
    start: async () => {
      server = await startEmbeddedPostgres({ dataDir, persistent: true, port });
      running = true;
    },
    close: async () => {
      if (running) await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function serversFromEnv(): Promise<DatabaseServer[]> {
  const wanted = (process.env.BENCH_DATABASES ?? 'local,embedded').split(',').map((name) => name.trim());
  const servers: DatabaseServer[] = [];
  if (wanted.includes('local')) servers.push(localServer());
  if (wanted.includes('embedded')) servers.push(await embeddedServer());
  return servers;
}

import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { freeLoopbackPort } from '../../src/database/embedded-postgres.launcher';
import { startDottedSignSimulator } from '../../src/sandbox/dottedsign/dottedsign.simulator';
import { installThroughOAuth } from '../../src/sandbox/oauth-install';
import { startPipedriveSimulator } from '../../src/sandbox/pipedrive/pipedrive.simulator';
import { type TestApp, startTestApp } from './test-app';
import type { TestDatabase } from './test-database';

export type PipedriveSim = Awaited<ReturnType<typeof startPipedriveSimulator>>;
export type DottedSignSim = Awaited<ReturnType<typeof startDottedSignSimulator>>;

export interface Sandbox {
  app: TestApp;
  pipedrive: PipedriveSim;
  dottedsign: DottedSignSim;
  credentials: { pipedriveClientId: string; pipedriveClientSecret: string; dottedsignClientId: string; dottedsignClientSecret: string };
  /** A panel JWT as Pipedrive would sign it for this user. */
  panelToken(companyId: number | string, userId: number | string, expiresInSeconds?: number): string;
  /** Calls the app's panel API as a Pipedrive user. */
  api(companyId: number | string, userId: number | string, path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  /** Drives the real OAuth install through the simulator, auto-approving as `userId`; returns the final redirect. */
  install(userId: number): Promise<{ location: string; status: number }>;
  sim(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  dsim(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export interface SandboxOptions {
  database?: TestDatabase;
  pipedrive?: Partial<Parameters<typeof startPipedriveSimulator>[0]>;
  dottedsign?: Partial<Parameters<typeof startDottedSignSimulator>[0]>;
  env?: Record<string, string>;
}

async function json(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    redirect: 'manual',
  });
}

/** Both simulators and the real app, wired to each other over loopback HTTP, on a real database. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const credentials = {
    pipedriveClientId: `pd-${randomBytes(4).toString('hex')}`,
    pipedriveClientSecret: randomBytes(16).toString('hex'),
    dottedsignClientId: `ds-${randomBytes(4).toString('hex')}`,
    dottedsignClientSecret: randomBytes(16).toString('hex'),
  };
  const appPort = await freeLoopbackPort();
  const appUrl = `http://127.0.0.1:${appPort}`;
  const pipedrive = await startPipedriveSimulator({
    clientId: credentials.pipedriveClientId,
    clientSecret: credentials.pipedriveClientSecret,
    appCallbackUrl: `${appUrl}/auth/pipedrive/callback`,
    timeScale: 0.001,
    ...options.pipedrive,
  });
  const dottedsign = await startDottedSignSimulator({
    clientId: credentials.dottedsignClientId,
    clientSecret: credentials.dottedsignClientSecret,
    webhookUrl: `${appUrl}/webhooks/dottedsign`,
    timeScale: 0.001,
    ...options.dottedsign,
  });
  const app = await startTestApp({
    database: options.database,
    port: appPort,
    env: {
      PIPEDRIVE_CLIENT_ID: credentials.pipedriveClientId,
      PIPEDRIVE_CLIENT_SECRET: credentials.pipedriveClientSecret,
      PIPEDRIVE_OAUTH_URL: pipedrive.url,
      DOTTEDSIGN_CLIENT_ID: credentials.dottedsignClientId,
      DOTTEDSIGN_CLIENT_SECRET: credentials.dottedsignClientSecret,
      DOTTEDSIGN_API_URL: dottedsign.url,
      ...options.env,
    },
  });
  const panelToken = (companyId: number | string, userId: number | string, expiresInSeconds = 300) =>
    jwt.sign({ companyId: Number(companyId), userId: Number(userId) }, credentials.pipedriveClientSecret, { algorithm: 'HS256', expiresIn: expiresInSeconds });

  return {
    app,
    pipedrive,
    dottedsign,
    credentials,
    panelToken,
    api: (companyId, userId, path, init = {}) =>
      json(`${appUrl}${path}`, { ...init, headers: { authorization: `Bearer ${panelToken(companyId, userId)}` } }),
    install: (userId) => installThroughOAuth(appUrl, userId),
    sim: (path, init) => json(`${pipedrive.url}/_sim${path}`, init),
    dsim: (path, init) => json(`${dottedsign.url}/_sim${path}`, init),
    close: async () => {
      await app.close();
      await Promise.all([pipedrive.close(), dottedsign.close()]);
    },
  };
}

import { installThroughOAuth } from '../../src/sandbox/oauth-install';
import type { DottedSignSimulatorOptions } from '../../src/sandbox/dottedsign/dottedsign.simulator';
import type { PipedriveSimulatorOptions } from '../../src/sandbox/pipedrive/pipedrive.simulator';
import { type SimulatedWorld, startSimulatedWorld } from '../../src/sandbox/simulated-world';
import { type TestApp, holdLoopbackPort, startTestApp } from './test-app';
import type { TestDatabase } from './test-database';

export interface Sandbox extends SimulatedWorld {
  app: TestApp;
  /** Calls the app's panel API as a Pipedrive user. */
  api(companyId: number | string, userId: number | string, path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  /** Drives the real OAuth install through the simulator, auto-approving as `userId`; returns the final redirect. */
  install(userId: number): Promise<{ location: string; status: number }>;
  sim(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  dsim(path: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  /** Stops the app, then the simulators. */
  close(): Promise<void>;
}

export interface SandboxOptions {
  database?: TestDatabase;
  pipedrive?: Partial<PipedriveSimulatorOptions>;
  dottedsign?: Partial<DottedSignSimulatorOptions>;
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
  const appPort = await holdLoopbackPort();
  const appUrl = `http://127.0.0.1:${appPort.port}`;
  let world: SimulatedWorld;
  try {
    world = await startSimulatedWorld({
      appUrl,
      pipedrive: { timeScale: 0.001, ...options.pipedrive },
      dottedsign: { timeScale: 0.001, ...options.dottedsign },
    });
  } catch (error) {
    await appPort.release();
    throw error;
  }
  let app: TestApp;
  try {
    app = await startTestApp({ database: options.database, port: appPort, env: { ...world.appEnv, ...options.env } });
  } catch (error) {
    await world.close();
    throw error;
  }
  const { pipedrive, dottedsign, panelToken } = world;
  return {
    ...world,
    app,
    api: (companyId, userId, path, init = {}) =>
      json(`${appUrl}${path}`, { ...init, headers: { authorization: `Bearer ${panelToken(companyId, userId)}` } }),
    install: (userId) => installThroughOAuth(appUrl, userId),
    sim: (path, init) => json(`${pipedrive.url}/_sim${path}`, init),
    dsim: (path, init) => json(`${dottedsign.url}/_sim${path}`, init),
    close: async () => {
      await app.close();
      await world.close();
    },
  };
}

import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { type DottedSignSimulatorOptions, startDottedSignSimulator } from './dottedsign/dottedsign.simulator';
import { type PipedriveSimulatorOptions, startPipedriveSimulator } from './pipedrive/pipedrive.simulator';
import type { SandboxCredentials } from './sandbox-credentials';

export type PipedriveSimulator = Awaited<ReturnType<typeof startPipedriveSimulator>>;
export type DottedSignSimulator = Awaited<ReturnType<typeof startDottedSignSimulator>>;

export interface SimulatedWorldOptions {
  /** Where the app listens: the simulators send OAuth redirects, uninstalls and webhooks there. */
  appUrl: string;
  /** Fresh random ones unless given (sandbox mode keeps its own across restarts). */
  credentials?: SandboxCredentials;
  pipedrive?: Partial<PipedriveSimulatorOptions>;
  dottedsign?: Partial<DottedSignSimulatorOptions>;
}

/** Both simulators on loopback, registered with one app as its OAuth client at each vendor. */
export interface SimulatedWorld {
  pipedrive: PipedriveSimulator;
  dottedsign: DottedSignSimulator;
  credentials: SandboxCredentials;
  /** The environment that points an app at these simulators. */
  appEnv: Record<string, string>;
  /** What Pipedrive answers to GET_SIGNED_TOKEN: an HS256 JWT signed with the app's client secret. */
  panelToken(companyId: number | string, userId: number | string, expiresInSeconds?: number): string;
  close(): Promise<void>;
}

function randomCredentials(): SandboxCredentials {
  return {
    pipedriveClientId: `pd-${randomBytes(4).toString('hex')}`,
    pipedriveClientSecret: randomBytes(16).toString('hex'),
    dottedsignClientId: `ds-${randomBytes(4).toString('hex')}`,
    dottedsignClientSecret: randomBytes(16).toString('hex'),
  };
}

export async function startSimulatedWorld(options: SimulatedWorldOptions): Promise<SimulatedWorld> {
  const credentials = options.credentials ?? randomCredentials();
  const pipedrive = await startPipedriveSimulator({
    clientId: credentials.pipedriveClientId,
    clientSecret: credentials.pipedriveClientSecret,
    appCallbackUrl: `${options.appUrl}/auth/pipedrive/callback`,
    ...options.pipedrive,
  });
  let dottedsign: DottedSignSimulator;
  try {
    dottedsign = await startDottedSignSimulator({
      clientId: credentials.dottedsignClientId,
      clientSecret: credentials.dottedsignClientSecret,
      webhookUrl: `${options.appUrl}/webhooks/dottedsign`,
      ...options.dottedsign,
    });
  } catch (error) {
    await pipedrive.close();
    throw error;
  }
  return {
    pipedrive,
    dottedsign,
    credentials,
    appEnv: {
      PIPEDRIVE_CLIENT_ID: credentials.pipedriveClientId,
      PIPEDRIVE_CLIENT_SECRET: credentials.pipedriveClientSecret,
      PIPEDRIVE_OAUTH_URL: pipedrive.url,
      DOTTEDSIGN_CLIENT_ID: credentials.dottedsignClientId,
      DOTTEDSIGN_CLIENT_SECRET: credentials.dottedsignClientSecret,
      DOTTEDSIGN_API_URL: dottedsign.url,
      // A single-tenant deployment: companies connect the DottedSign application's own account.
      DOTTEDSIGN_APP_ACCOUNT: 'true',
    },
    panelToken: (companyId, userId, expiresInSeconds = 300) =>
      jwt.sign({ companyId: Number(companyId), userId: Number(userId) }, credentials.pipedriveClientSecret, { algorithm: 'HS256', expiresIn: expiresInSeconds }),
    close: async () => {
      await Promise.all([pipedrive.close(), dottedsign.close()]);
    },
  };
}

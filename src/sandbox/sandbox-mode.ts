import { Logger } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import type { AppConfig } from '../config/app-config';
import { type RunningServer } from './kit/http-server';
import { startSandboxConsole } from './console/console.server';
import { setUpDemoCompany } from './demo-setup';
import { startDottedSignSimulator } from './dottedsign/dottedsign.simulator';
import { startPipedriveSimulator } from './pipedrive/pipedrive.simulator';
import { sandboxCredentials } from './sandbox-credentials';

export interface SandboxWorld {
  /** The app's configuration pointed at the simulators, with the shared credentials and the console allowed to frame it. */
  config: AppConfig;
  consoleUrl: string;
  /** Once the app listens: the demo company installs it through OAuth, connects DottedSign and picks a template. */
  prepare(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Sandbox mode's wiring: both simulators and the console on loopback, trusting the app through generated
 * credentials. The app itself only sees an ordinary configuration.
 */
export async function startSandboxWorld(base: AppConfig): Promise<SandboxWorld> {
  const logger = new Logger('Sandbox');
  const credentials = sandboxCredentials(base.dataDir);
  const servers: RunningServer[] = [];
  try {
    const pipedrive = await startPipedriveSimulator({
      clientId: credentials.pipedriveClientId,
      clientSecret: credentials.pipedriveClientSecret,
      appCallbackUrl: `${base.appUrl}/auth/pipedrive/callback`,
    });
    servers.push(pipedrive);
    const dottedsign = await startDottedSignSimulator({
      clientId: credentials.dottedsignClientId,
      clientSecret: credentials.dottedsignClientSecret,
      webhookUrl: `${base.appUrl}/webhooks/dottedsign`,
    });
    servers.push(dottedsign);
    const { demo } = pipedrive;
    // What Pipedrive does for GET_SIGNED_TOKEN: a 5-minute HS256 JWT with the app's JWT secret.
    const signedToken = () => jwt.sign({ companyId: demo.companyId, userId: demo.adminUserId }, credentials.pipedriveClientSecret, { algorithm: 'HS256', expiresIn: 300 });
    const sandboxConsole = await startSandboxConsole({ appUrl: base.appUrl, pipedrive, dottedsign, signedToken });
    servers.push(sandboxConsole);

    const config: AppConfig = {
      ...base,
      pipedrive: { clientId: credentials.pipedriveClientId, clientSecret: credentials.pipedriveClientSecret, jwtSecret: credentials.pipedriveClientSecret, oauthUrl: pipedrive.url },
      dottedsign: { clientId: credentials.dottedsignClientId, clientSecret: credentials.dottedsignClientSecret, apiUrl: dottedsign.url },
      panelFrameAncestors: [...base.panelFrameAncestors, sandboxConsole.url],
    };

    const prepare = async () => {
      const { templateName } = await setUpDemoCompany({ appUrl: config.appUrl, userId: demo.adminUserId, token: signedToken() });
      logger.log(`demo company "${demo.companyId}" installed, DottedSign connected, template "${templateName}" chosen`);
    };

    return { config, consoleUrl: sandboxConsole.url, prepare, close: () => closeAll(servers) };
  } catch (error) {
    await closeAll(servers);
    throw error;
  }
}

async function closeAll(servers: RunningServer[]): Promise<void> {
  await Promise.all(servers.map((server) => server.close()));
}

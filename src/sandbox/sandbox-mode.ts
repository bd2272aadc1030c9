import { Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { startSandboxConsole } from './console/console.server';
import { installDemoCompany, setUpDemoCompany } from './demo-setup';
import { sandboxCredentials } from './sandbox-credentials';
import { startSimulatedWorld } from './simulated-world';

export interface SandboxWorld {
  /** The app's configuration pointed at the simulators, with the shared credentials and the console allowed to frame it. */
  config: AppConfig;
  consoleUrl: string;
  /** Once the app listens: the demo company installs it through OAuth, connects DottedSign and picks a template. */
  prepare(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Sandbox mode's wiring: both simulators and the console on loopback, trusting the app through credentials kept
 * in DATA_DIR. The app itself only sees an ordinary configuration.
 */
export async function startSandboxWorld(base: AppConfig): Promise<SandboxWorld> {
  const logger = new Logger('Sandbox');
  const world = await startSimulatedWorld({ appUrl: base.appUrl, credentials: sandboxCredentials(base.dataDir) });
  try {
    const { pipedrive, dottedsign, credentials } = world;
    const { demo } = pipedrive;
    const signedToken = () => world.panelToken(demo.companyId, demo.adminUserId);
    const sandboxConsole = await startSandboxConsole({ appUrl: base.appUrl, pipedrive, dottedsign, signedToken });

    const config: AppConfig = {
      ...base,
      pipedrive: { clientId: credentials.pipedriveClientId, clientSecret: credentials.pipedriveClientSecret, jwtSecret: credentials.pipedriveClientSecret, oauthUrl: pipedrive.url },
      dottedsign: { ...base.dottedsign, clientId: credentials.dottedsignClientId, clientSecret: credentials.dottedsignClientSecret, apiUrl: dottedsign.url },
      panelFrameAncestors: [...base.panelFrameAncestors, sandboxConsole.url],
    };

    const prepare = async () => {
      const setup = { appUrl: config.appUrl, userId: demo.adminUserId, token: signedToken() };
      if (!config.dottedsign.appAccount) {
        await installDemoCompany(setup);
        logger.log(`demo company "${demo.companyId}" installed; connect DottedSign from the app settings (DOTTEDSIGN_APP_ACCOUNT is off, so through the simulator's approval page)`);
        return;
      }
      const { templateName } = await setUpDemoCompany(setup);
      logger.log(`demo company "${demo.companyId}" installed, DottedSign connected, template "${templateName}" chosen`);
    };
    const close = async () => {
      await Promise.all([sandboxConsole.close(), world.close()]);
    };
    return { config, consoleUrl: sandboxConsole.url, prepare, close };
  } catch (error) {
    await world.close();
    throw error;
  }
}

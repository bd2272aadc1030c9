import { startPipedriveSimulator } from './pipedrive.simulator';

/** `npm run sim:pipedrive`: a standalone simulator for the local sandbox. */
async function main(): Promise<void> {
  const simulator = await startPipedriveSimulator({
    port: Number(process.env.PORT ?? 5111),
    clientId: process.env.PIPEDRIVE_CLIENT_ID ?? 'sandbox-client-id',
    clientSecret: process.env.PIPEDRIVE_CLIENT_SECRET ?? 'sandbox-client-secret',
    appCallbackUrl: process.env.APP_CALLBACK_URL,
  });
  console.log(`Pipedrive simulator listening on ${simulator.url}`);
  console.log(`  OAuth authorize: ${simulator.url}/oauth/authorize, token: ${simulator.url}/oauth/token`);
  console.log(`  demo company ${simulator.demo.companyId}: api_domain ${simulator.apiDomain(simulator.demo.companyId)}`);
  const stop = () => void simulator.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

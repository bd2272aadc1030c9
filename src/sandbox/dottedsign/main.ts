import { startDottedSignSimulator } from './dottedsign.simulator';

/** `npm run sim:dottedsign`: a standalone simulator for the local sandbox. */
async function main(): Promise<void> {
  const simulator = await startDottedSignSimulator({
    port: Number(process.env.PORT ?? 5112),
    clientId: process.env.DOTTEDSIGN_CLIENT_ID ?? 'sandbox-dottedsign-id',
    clientSecret: process.env.DOTTEDSIGN_CLIENT_SECRET ?? 'sandbox-dottedsign-secret',
    webhookUrl: process.env.DOTTEDSIGN_WEBHOOK_URL,
  });
  console.log(`DottedSign simulator listening on ${simulator.url} (owner account ${simulator.ownerAccount})`);
  const stop = () => void simulator.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

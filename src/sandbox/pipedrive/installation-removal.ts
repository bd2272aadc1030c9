import type { SimulatorStore } from './simulator-store';
import type { TokenRegistry } from './token-registry';

/** What uninstall does on Pipedrive's side: the user's tokens stop working and the app's webhooks of that user go. */
export function removeInstallation(store: SimulatorStore, tokens: TokenRegistry, clientId: string, companyId: number, userId: number): { webhooksDeleted: number } {
  tokens.revokeInstallation(clientId, companyId, userId);
  let webhooksDeleted = 0;
  for (const webhook of store.webhooksOf(companyId, clientId)) {
    if (webhook.ownerId === userId) {
      store.webhooks.delete(webhook.id);
      webhooksDeleted += 1;
    }
  }
  return { webhooksDeleted };
}

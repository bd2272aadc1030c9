import type { AppRegistration } from './app-registration';
import { basicAuthHeader } from './basic-auth';

export type UninstallNotice = { delivered: true; status: number; body: string } | { delivered: false; error: string };

/**
 * Pipedrive's uninstall call: `DELETE <callback>` with `{client_id, company_id, user_id, timestamp}` and the app's
 * Basic credentials. Sent once; the answer is ignored by Pipedrive (here: reported back to the caller).
 */
export async function notifyUninstall(app: AppRegistration, companyId: number, userId: number, timeoutMs: number): Promise<UninstallNotice> {
  if (!app.callbackUrl) return { delivered: false, error: 'The app has no callback URL configured' };
  try {
    const response = await fetch(app.callbackUrl, {
      method: 'DELETE',
      headers: { authorization: basicAuthHeader(app.clientId, app.clientSecret), 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: app.clientId, company_id: companyId, user_id: userId, timestamp: new Date().toISOString() }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { delivered: true, status: response.status, body: await response.text() };
  } catch (error) {
    return { delivered: false, error: error instanceof Error ? error.message : String(error) };
  }
}

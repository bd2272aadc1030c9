import { installThroughOAuth } from './oauth-install';

export interface DemoSetup {
  appUrl: string;
  /** The installing admin. */
  userId: number;
  /** A panel JWT for that admin, as Pipedrive signs it. */
  token: string;
  /** Saved with the chosen template. */
  settings?: Record<string, unknown>;
}

/**
 * An admin's first step: installing the app through OAuth. Alone, it is the whole set-up when the server does not offer
 * the DottedSign application's account (`DOTTEDSIGN_APP_ACCOUNT=false`): the admin then connects DottedSign from the
 * settings page, through OAuth.
 */
export async function installDemoCompany(setup: Pick<DemoSetup, 'appUrl' | 'userId'>): Promise<void> {
  const installed = await installThroughOAuth(setup.appUrl, setup.userId);
  if (installed.status !== 302) throw new Error(`install failed (${installed.status}): ${installed.location}`);
}

/**
 * What a company's admin does after finding the app, through the app's own routes: install it through OAuth,
 * connect DottedSign's application account, and save settings with the account's first template.
 */
export async function setUpDemoCompany(setup: DemoSetup): Promise<{ templateId: number; templateName: string }> {
  await installDemoCompany(setup);
  const api = async (path: string, method = 'GET', body?: unknown) => {
    const answer = await fetch(`${setup.appUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${setup.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!answer.ok) throw new Error(`${method} ${path} failed (${answer.status}): ${await answer.text()}`);
    return answer.json() as Promise<unknown>;
  };
  await api('/api/dottedsign/connect-app-account', 'POST', {});
  const { templates } = (await api('/api/templates')) as { templates: Array<{ id: number; name: string }> };
  await api('/api/settings', 'PUT', { templateId: templates[0].id, ...setup.settings });
  return { templateId: templates[0].id, templateName: templates[0].name };
}

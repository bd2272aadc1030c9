/**
 * Installs the app the way a Pipedrive user does: the app's installation URL, the simulator's authorize page
 * (approved as `userId`), then the app's callback. Returns the callback's answer (a redirect when it worked).
 */
export async function installThroughOAuth(appUrl: string, userId: number): Promise<{ status: number; location: string }> {
  const start = await fetch(`${appUrl}/auth/pipedrive`, { redirect: 'manual' });
  const authorizeUrl = start.headers.get('location');
  if (!authorizeUrl) throw new Error(`the installation URL answered ${start.status} without a redirect`);
  const authorize = new URL(authorizeUrl);
  authorize.searchParams.set('_sim_user', String(userId));
  const approved = await fetch(authorize, { redirect: 'manual' });
  const callbackUrl = approved.headers.get('location');
  if (!callbackUrl) throw new Error(`the authorize page answered ${approved.status} without a redirect`);
  const callback = await fetch(callbackUrl, { redirect: 'manual' });
  return { status: callback.status, location: callback.headers.get('location') ?? (await callback.text()) };
}

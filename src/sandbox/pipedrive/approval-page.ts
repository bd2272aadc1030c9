import type { User } from './pipedrive.entities';

export interface ApprovalRequest {
  clientId: string;
  redirectUri: string;
  state?: string;
  scopes: string[];
}

/** The consent screen: pick the Pipedrive user who installs, then Allow or Deny. */
export function approvalPage(request: ApprovalRequest, users: Array<User & { companyName: string }>): string {
  const options = users
    .map((user) => `<option value="${user.id}">${escapeHtml(`${user.name} (${user.companyName}${user.isAdmin ? ', admin' : ''})`)}</option>`)
    .join('');
  const hidden = (name: string, value: string | undefined) => (value === undefined ? '' : `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Pipedrive simulator: install app</title></head>
<body>
<h1>Install app ${escapeHtml(request.clientId)}</h1>
<p>The app asks for: ${request.scopes.map(escapeHtml).join(', ')}</p>
<form method="post" action="/oauth/authorize">
${hidden('client_id', request.clientId)}${hidden('redirect_uri', request.redirectUri)}${hidden('state', request.state)}
<label>Install as <select name="user_id">${options}</select></label>
<button type="submit" name="decision" value="allow">Allow and install</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form>
</body></html>`;
}

export function errorPage(message: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>OAuth error</title></head><body><h1>OAuth error</h1><p>${escapeHtml(message)}</p></body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

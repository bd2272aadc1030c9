import { createHmac, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { memoryOf } from '../bench/support/app-process';
import { Stack, UNTHROTTLED } from '../bench/support/stack';
import { type Invariant, check, pool } from './invariants';

const DRILL = 'hostile input';
const TABLES = ['companies', 'installations', 'webhook_subscriptions', 'esign_connections', 'contracts', 'contract_events', 'inbox_events', 'deal_deletions'];

interface HostileRequest {
  kind: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

function deep(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Every public route × the ways a request can be wrong, none of them carrying valid credentials. */
function catalogue(stack: Stack): HostileRequest[] {
  const company = stack.demo.companyId;
  const forged = {
    wrongSecret: jwt.sign({ companyId: company, userId: stack.demo.adminUserId }, 'not-the-secret'),
    none: `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ companyId: company, userId: stack.demo.adminUserId })).toString('base64url')}.`,
    garbage: 'a.b.c',
  };
  const sql = `1'; DROP TABLE contracts; --`;
  const html = '<script>alert(1)</script><img src=x onerror=alert(1)>';
  const json = { 'content-type': 'application/json' };
  const v2 = (companyId: unknown, title: unknown) =>
    JSON.stringify({ meta: { id: randomUUID(), action: 'create', entity: 'deal', entity_id: '5', company_id: companyId }, data: { id: 5, title }, previous: null });
  const bodies: Array<[string, string]> = [
    ['bad JSON', '{"meta": {'],
    ['wrong types', JSON.stringify({ meta: { id: 5, action: [], entity: {}, company_id: 'x' } })],
    ['deep nesting', deep(5000)],
    ['2 MB body', 'a'.repeat(2 * 1024 * 1024)],
    ['SQL in strings', v2(company, sql)],
    ['HTML in strings', v2(company, html)],
    ['NUL and a lone surrogate in strings', v2(company, 'a\u0000b\ud800c')],
    ['other company id', v2(company + 1, 'x')],
    ['array', '[1,2,3]'],
    ['null', 'null'],
  ];
  const pipedriveAuth: Array<[string, Record<string, string>]> = [
    ['no auth', {}],
    ['wrong password', { authorization: `Basic ${Buffer.from('user:wrong').toString('base64')}` }],
    ['malformed auth', { authorization: 'Basic !!!' }],
    ['NUL in the user name', { authorization: `Basic ${Buffer.from('pd\u0000x:y').toString('base64')}` }],
    ['bearer instead of basic', { authorization: `Bearer ${forged.wrongSecret}` }],
  ];
  const requests: HostileRequest[] = [];
  for (const [authKind, auth] of pipedriveAuth) {
    for (const [bodyKind, body] of bodies) requests.push({ kind: `pipedrive webhook: ${authKind}, ${bodyKind}`, method: 'POST', path: '/webhooks/pipedrive', headers: { ...json, ...auth }, body });
  }
  const dottedsignBody = JSON.stringify({ action_name: 'completed', task: { task_id: '1' } });
  const forgedSignature = createHmac('sha256', 'not-the-secret').update(dottedsignBody).digest('hex');
  for (const [kind, headers] of [
    ['no signature', {}],
    ['forged signature', { signature: forgedSignature }],
    ['garbage signature', { signature: `${sql}${html}` }],
  ] as Array<[string, Record<string, string>]>) {
    for (const [bodyKind, body] of [...bodies, ['plausible event', dottedsignBody] as [string, string]]) {
      requests.push({ kind: `dottedsign webhook: ${kind}, ${bodyKind}`, method: 'POST', path: '/webhooks/dottedsign', headers: { ...json, ...headers }, body });
    }
  }
  const tokens: Array<[string, Record<string, string>]> = [
    ['no token', {}],
    ['wrong-secret JWT', { authorization: `Bearer ${forged.wrongSecret}` }],
    ['alg none JWT', { authorization: `Bearer ${forged.none}` }],
    ['garbage JWT', { authorization: `Bearer ${forged.garbage}` }],
  ];
  const apiRoutes: Array<[string, string, string | undefined]> = [
    ['GET', `/api/deals/${stack.demo.dealId}/contracts`, undefined],
    ['GET', `/api/deals/${encodeURIComponent(sql)}/contracts`, undefined],
    ['POST', `/api/deals/${stack.demo.dealId}/contracts`, JSON.stringify({ signers: [{ name: html, email: 'x@example.test' }] })],
    ['POST', '/api/contracts/1/void', '{}'],
    ['POST', '/api/contracts/1/retry', '{}'],
    ['GET', '/api/contracts/1/files/completed', undefined],
    ['GET', '/api/settings', undefined],
    ['PUT', '/api/settings', JSON.stringify({ templateId: sql, autoSend: { enabled: 'yes' } })],
    ['GET', '/api/templates', undefined],
    ['POST', '/api/dottedsign/connect-app-account', '{}'],
    ['DELETE', '/api/dottedsign/connection', undefined],
  ];
  for (const [method, path, body] of apiRoutes) {
    for (const [kind, headers] of tokens) requests.push({ kind: `api ${method} ${path.slice(0, 30)}: ${kind}`, method, path, headers: { ...json, ...headers }, body });
    requests.push({ kind: `api ${method}: 2 MB body`, method, path, headers: { ...json, authorization: `Bearer ${forged.wrongSecret}` }, body: method === 'GET' ? undefined : '{'.repeat(2 * 1024 * 1024) });
  }
  for (const token of [forged.wrongSecret, forged.none, forged.garbage, encodeURIComponent(html)]) {
    for (const path of ['/panel', '/settings', '/auth/dottedsign']) requests.push({ kind: `${path} forged token`, method: 'GET', path: `${path}?token=${token}` });
  }
  for (const query of [`code=${encodeURIComponent(sql)}&state=forged`, 'error=user_denied', 'code=&state=', `state=${'x'.repeat(5000)}`, 'code=%00&state=%00']) {
    requests.push({ kind: 'OAuth callback forged', method: 'GET', path: `/auth/pipedrive/callback?${query}` });
    requests.push({ kind: 'DottedSign callback forged', method: 'GET', path: `/auth/dottedsign/callback?${query}` });
  }
  for (const [kind, headers] of [
    ['no auth', {}],
    ['wrong client', { authorization: `Basic ${Buffer.from('pd-x:y').toString('base64')}` }],
  ] as Array<[string, Record<string, string>]>) {
    for (const [bodyKind, body] of bodies.slice(0, 4)) {
      requests.push({ kind: `uninstall notice: ${kind}, ${bodyKind}`, method: 'DELETE', path: '/auth/pipedrive/callback', headers: { ...json, ...headers }, body });
    }
    requests.push({
      kind: `uninstall notice: ${kind}, plausible`,
      method: 'DELETE',
      path: '/auth/pipedrive/callback',
      headers: { ...json, ...headers },
      body: JSON.stringify({ client_id: 'x', company_id: company, user_id: stack.demo.adminUserId, timestamp: new Date().toISOString() }),
    });
  }
  requests.push({ kind: 'unknown route', method: 'POST', path: `/${encodeURIComponent(sql)}`, body: 'x' });
  requests.push({ kind: 'health with junk', method: 'GET', path: '/healthz?x=<script>' });
  return requests;
}

async function rowCounts(stack: Stack): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) counts[table] = await stack.count(`SELECT count(*) FROM ${table}`);
  return counts;
}

export async function hostileInputDrill(databaseUrl: string, total: number): Promise<Invariant[]> {
  const stack = await Stack.start({ databaseUrl, mode: 'processes', ...UNTHROTTLED });
  try {
    await stack.installAndConnect();
    const app = stack.apps[0];
    const pid = app.pid;
    const before = await rowCounts(stack);
    const catalogueOf = catalogue(stack);
    const work = Array.from({ length: total }, (_, index) => catalogueOf[index % catalogueOf.length]);
    const statuses = new Map<number, number>();
    const fivexx: string[] = [];
    let networkErrors = 0;
    const send = async (request: (typeof work)[number]) => {
      const response = await fetch(`${stack.url}${request.path}`, { method: request.method, headers: request.headers, body: request.body, redirect: 'manual' }).catch(() => null);
      if (!response) {
        networkErrors += 1;
        return;
      }
      await response.arrayBuffer().catch(() => undefined);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status >= 500 && fivexx.length < 5) fivexx.push(`${response.status} ${request.kind}`);
    };
    // The catalogue runs twice: the first round grows the heap and allocator to their working size (about 100 MB,
    // mostly the 2 MB bodies), a leak keeps growing in the second, measured round.
    const rssStart = memoryOf(pid).currentMb;
    await pool(work, 16, send);
    const rssAfterFirst = memoryOf(pid).currentMb;
    await pool(work, 16, send);
    const after = await rowCounts(stack);
    const written = TABLES.filter((table) => after[table] !== before[table]).map((table) => `${table} ${before[table]}→${after[table]}`);
    const rssEnd = memoryOf(pid).currentMb;
    const alive = (await fetch(`${stack.url}/healthz`).then((r) => r.status, () => 0)) === 200 && app.exits === 0;
    const count5xx = [...statuses].filter(([status]) => status >= 500).reduce((sum, [, n]) => sum + n, 0);
    return [
      check(DRILL, 'zero 5xx', count5xx === 0, `${2 * work.length} requests (${catalogueOf.length} kinds, two rounds); statuses ${JSON.stringify(Object.fromEntries(statuses))}${fivexx.length ? `; e.g. ${fivexx.join(' | ')}` : ''}`),
      check(DRILL, 'zero crashes', alive && networkErrors === 0, `same pid ${pid} answering /healthz: ${alive}; connection errors ${networkErrors}`),
      check(DRILL, 'zero rows written', written.length === 0, written.length ? written.join(', ') : `row counts unchanged in ${TABLES.length} tables`),
      check(
        DRILL,
        'memory stable (second round grows < 30 MB)',
        rssEnd - rssAfterFirst < 30,
        `RSS ${rssStart} MB → ${rssAfterFirst} MB after round 1 → ${rssEnd} MB after round 2 (peak ${memoryOf(pid).peakMb} MB)`,
      ),
    ];
  } finally {
    await stack.close();
  }
}

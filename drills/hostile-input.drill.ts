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
    ['GET', `/api/deals/${stack.demo.dealId}/signers`, undefined],
    ['POST', '/api/pipedrive/disconnect', '{}'],
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
  for (const query of [`token=${forged.wrongSecret}`, `token=${forged.none}`, `token=${encodeURIComponent(sql)}`, '', 'token=']) {
    requests.push({ kind: 'file download forged link', method: 'GET', path: `/downloads/contract-file?${query}` });
  }
  for (const name of ['..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e%2fpackage.json', encodeURIComponent(html), 'x'.repeat(5000), '%00.js']) {
    requests.push({ kind: 'asset path traversal', method: 'GET', path: `/assets/${name}` });
  }
  requests.push({ kind: 'install start with junk', method: 'GET', path: `/auth/pipedrive?x=${encodeURIComponent(sql)}` });
  requests.push({ kind: 'unknown route', method: 'POST', path: `/${encodeURIComponent(sql)}`, body: 'x' });
  requests.push({ kind: 'health with junk', method: 'GET', path: '/healthz?x=<script>' });
  requests.push({ kind: 'readiness with junk', method: 'GET', path: '/readyz?x=<script>' });
  return requests;
}

/**
 * Requests with valid credentials (the admin's panel token, the webhook's Basic auth) and a wrong body or id, which
 * must get a 4xx and change nothing: wrong types, deep nesting, 2 MB, SQL and HTML where an id or a choice goes,
 * ids of contracts that are not the company's.
 */
function authenticatedCatalogue(stack: Stack, foreign: ForeignCompany): HostileRequest[] {
  const sql = `1'; DROP TABLE contracts; --`;
  const panel = { 'content-type': 'application/json', authorization: `Bearer ${stack.panelToken(stack.demo.companyId, stack.demo.adminUserId)}` };
  const webhook = { 'content-type': 'application/json', authorization: stack.webhookAuthorization('create') };
  const invalid: Array<[string, string]> = [
    ['bad JSON', '{"meta": {'],
    ['deep nesting', deep(5000)],
    ['2 MB body', 'a'.repeat(2 * 1024 * 1024)],
    ['array', '[1,2,3]'],
    ['null', 'null'],
  ];
  const requests: HostileRequest[] = [];
  const settingsBodies: Array<[string, string]> = [
    ...invalid,
    ['wrong types', JSON.stringify({ templateId: sql, autoSend: { enabled: 'yes', pipelineIds: 'all' }, onCompleted: { action: 'explode' } })],
    ['SQL and HTML in choices', JSON.stringify({ onCompleted: { action: 'stage', stageId: sql }, writeNotes: '<script>' })],
  ];
  for (const [kind, body] of settingsBodies) requests.push({ kind: `settings with a valid token: ${kind}`, method: 'PUT', path: '/api/settings', headers: panel, body });
  const sendBodies: Array<[string, string]> = [
    ...invalid,
    ['wrong types', JSON.stringify({ signers: 'everyone', templateId: {} })],
    ['SQL and HTML for an email', JSON.stringify({ signers: [{ name: '<img src=x onerror=alert(1)>', email: sql }] })],
    ['10,000 signers', JSON.stringify({ signers: Array.from({ length: 10_000 }, (_, i) => ({ name: 'x', email: `x${i}@example.test` })) })],
  ];
  for (const [kind, body] of sendBodies) {
    requests.push({ kind: `send with a valid token: ${kind}`, method: 'POST', path: `/api/deals/${stack.demo.dealId}/contracts`, headers: panel, body });
  }
  for (const id of [encodeURIComponent(sql), '-1', '0', '1e99', '99999999999999999999', '9007199254740993']) {
    requests.push({ kind: 'contracts of a foreign or absurd deal id', method: 'GET', path: `/api/deals/${id}/contracts`, headers: panel });
    requests.push({ kind: 'void of a foreign or absurd contract id', method: 'POST', path: `/api/contracts/${id}/void`, headers: panel, body: '{}' });
    requests.push({ kind: 'retry of a foreign or absurd contract id', method: 'POST', path: `/api/contracts/${id}/retry`, headers: panel, body: '{}' });
    requests.push({ kind: 'file of a foreign or absurd contract id', method: 'GET', path: `/api/contracts/${id}/files/${encodeURIComponent(sql)}`, headers: panel });
  }
  // Real ids of another company's deal and contract, with the demo admin's valid token.
  const send = JSON.stringify({ signers: [{ name: 'Mallory', email: 'mallory@example.test' }] });
  requests.push(
    { kind: 'another company’s deal: its contracts', method: 'GET', path: `/api/deals/${foreign.dealId}/contracts`, headers: panel },
    { kind: 'another company’s deal: a send', method: 'POST', path: `/api/deals/${foreign.dealId}/contracts`, headers: panel, body: send },
    { kind: 'another company’s deal: its signers', method: 'GET', path: `/api/deals/${foreign.dealId}/signers`, headers: panel },
    { kind: 'another company’s contract: void', method: 'POST', path: `/api/contracts/${foreign.contractId}/void`, headers: panel, body: '{}' },
    { kind: 'another company’s contract: retry', method: 'POST', path: `/api/contracts/${foreign.contractId}/retry`, headers: panel, body: '{}' },
    { kind: 'another company’s contract: signed PDF', method: 'GET', path: `/api/contracts/${foreign.contractId}/files/completed`, headers: panel },
  );
  const events: Array<[string, string]> = [
    ...invalid,
    ['wrong types', JSON.stringify({ meta: { id: 5, action: [], entity: {}, company_id: 'x' }, data: 'deal' })],
    ['another company', JSON.stringify({ meta: { id: randomUUID(), action: 'create', entity: 'deal', entity_id: '5', company_id: stack.demo.companyId + 1 }, data: { id: 5 }, previous: null })],
  ];
  for (const [kind, body] of events) requests.push({ kind: `pipedrive webhook with valid credentials: ${kind}`, method: 'POST', path: '/webhooks/pipedrive', headers: webhook, body });
  return requests;
}

interface ForeignCompany {
  dealId: number;
  contractId: string;
}

/**
 * Another installed company with a deal in Pipedrive and a contract out for signature on it (signed PDF included),
 * whose ids the demo company's admin tries.
 */
async function seedForeignCompany(stack: Stack): Promise<ForeignCompany> {
  const created = async <T>(path: string, body: unknown) => (await (await stack.sim(path, body)).json()) as T;
  const { id: companyId } = await created<{ id: number }>('/companies', { name: 'Other Corp', domain: 'other' });
  const { id: userId } = await created<{ id: number }>(`/companies/${companyId}/users`, { name: 'Olga Admin', isAdmin: true });
  const [{ id: dealId }] = await created<Array<{ id: number }>>(`/companies/${companyId}/deals`, [{ title: 'Their deal', owner_id: userId, user_id: userId }]);
  await stack.query(`INSERT INTO companies (id, name, domain) VALUES ($1, 'Other Corp', 'other')`, [companyId]);
  const [{ id: contractId }] = await stack.query<{ id: string }>(
    // Written back already: a reconciliation cycle falling within the drill has nothing to claim in it.
    `INSERT INTO contracts (company_id, deal_id, intent_key, task_id, title, status, files, effects)
     VALUES ($1, $2, 'theirs', 'their-task', 'Their contract', 'completed', '[{"kind": "completed", "fileName": "theirs.pdf"}]', jsonb_build_object('writeBackDone', now()))
     RETURNING id::text`,
    [companyId, dealId],
  );
  return { dealId, contractId };
}

/** Which requests without valid credentials may answer 2xx: health, readiness, and the "installation cancelled" page. */
const PUBLIC_2XX = ['health with junk', 'readiness with junk', 'OAuth callback forged'];

/**
 * The jobs that requests could have caused: not those of the queues the app schedules itself, nor pg-boss's own
 * (`__pgboss__send-it` carries each scheduled job when its cron time comes, whenever that falls in the drill).
 */
const OWN_QUEUES = `name NOT IN (SELECT name FROM pgboss.schedule) AND name NOT LIKE '\\_\\_pgboss\\_\\_%'`;

/**
 * Each table's rows and a digest of their contents, so an update in place (a forged request changing settings, say)
 * shows as well as an insert. pg-boss's jobs count too (see OWN_QUEUES).
 */
async function contents(stack: Stack): Promise<Record<string, string>> {
  const digest = async (from: string) => {
    const [row] = await stack.query<{ rows: string; digest: string }>(`SELECT count(*)::text AS rows, md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS digest FROM ${from}`);
    return `${row.rows} rows, ${row.digest.slice(0, 8)}`;
  };
  const result: Record<string, string> = {};
  for (const table of TABLES) result[table] = await digest(`${table} t`);
  result['pgboss.job'] = await digest(`(SELECT id, name, data FROM pgboss.job WHERE ${OWN_QUEUES}) t`);
  return result;
}

const changed = (before: Record<string, string>, after: Record<string, string>) =>
  Object.keys(before).filter((table) => after[table] !== before[table]).map((table) => `${table}: ${before[table]} → ${after[table]}`);

/** The queue, data and state of jobs not among `known` (ids): what a changed pg-boss digest is about. */
async function newJobs(stack: Stack, known: Set<string>): Promise<string[]> {
  const jobs = await stack.query<{ id: string; name: string; data: unknown; state: string }>(
    `SELECT id, name, data, state FROM pgboss.job WHERE ${OWN_QUEUES} ORDER BY created_on`,
  );
  return jobs.filter((job) => !known.has(job.id)).map((job) => `${job.name} ${JSON.stringify(job.data)} ${job.state}`);
}

const jobIds = async (stack: Stack) => new Set((await stack.query<{ id: string }>('SELECT id FROM pgboss.job')).map((job) => job.id));

export async function hostileInputDrill(databaseUrl: string, total: number): Promise<Invariant[]> {
  const stack = await Stack.start({ databaseUrl, mode: 'processes', ...UNTHROTTLED });
  try {
    await stack.installAndConnect();
    const app = stack.apps[0];
    const pid = app.pid;
    await stack.until(async () => (await stack.count(`SELECT count(*) FROM pgboss.job WHERE state < 'completed' AND ${OWN_QUEUES}`)) === 0, 'the set-up jobs to finish', 30_000);
    const foreign = await seedForeignCompany(stack);
    const before = await contents(stack);
    const jobsBefore = await jobIds(stack);
    const catalogueOf = catalogue(stack);
    const work = Array.from({ length: total }, (_, index) => catalogueOf[index % catalogueOf.length]);
    const statuses = new Map<number, number>();
    const fivexx: string[] = [];
    const answered2xx = new Set<string>();
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
      if (response.status < 300) answered2xx.add(request.kind);
    };
    // The catalogue runs twice: the first round grows the heap and allocator to their working size (about 100 MB,
    // mostly the 2 MB bodies), a leak keeps growing in the second, measured round.
    const rssStart = memoryOf(pid).currentMb;
    await pool(work, 16, send);
    const rssAfterFirst = memoryOf(pid).currentMb;
    await pool(work, 16, send);
    const afterUnauthenticated = await contents(stack);
    const written = changed(before, afterUnauthenticated);
    const jobsUnauthenticated = written.length ? await newJobs(stack, jobsBefore) : [];
    const jobsAfterUnauthenticated = await jobIds(stack);
    const rssEnd = memoryOf(pid).currentMb;
    const unauthenticated2xx = [...answered2xx].filter((kind) => !PUBLIC_2XX.includes(kind));
    const authenticated = authenticatedCatalogue(stack, foreign);
    const authenticatedWork = Array.from({ length: Math.ceil(total / 5) }, (_, index) => authenticated[index % authenticated.length]);
    const statusesBefore = new Map(statuses);
    const answered2xxBefore = new Set(answered2xx);
    answered2xx.clear();
    await pool(authenticatedWork, 16, send);
    const authenticated2xx = [...statuses].filter(([status]) => status < 300).reduce((sum, [status, n]) => sum + n - (statusesBefore.get(status) ?? 0), 0);
    const writtenAuthenticated = changed(afterUnauthenticated, await contents(stack));
    const jobsAuthenticated = writtenAuthenticated.length ? await newJobs(stack, jobsAfterUnauthenticated) : [];
    const alive = (await fetch(`${stack.url}/healthz`).then((r) => r.status, () => 0)) === 200 && app.exits === 0;
    const count5xx = [...statuses].filter(([status]) => status >= 500).reduce((sum, [, n]) => sum + n, 0);
    return [
      check(
        DRILL,
        'zero 5xx',
        count5xx === 0,
        `${2 * work.length} requests without valid credentials (${catalogueOf.length} kinds, two rounds) and ${authenticatedWork.length} with valid credentials and a wrong body or id (${authenticated.length} kinds); statuses ${JSON.stringify(Object.fromEntries(statuses))}${fivexx.length ? `; e.g. ${fivexx.join(' | ')}` : ''}`,
      ),
      check(DRILL, 'zero crashes', alive && networkErrors === 0, `same pid ${pid} answering /healthz: ${alive}; connection errors ${networkErrors}`),
      check(
        DRILL,
        'zero rows written by unauthenticated requests',
        written.length === 0,
        written.length ? `${written.join('; ')}${jobsUnauthenticated.length ? `; new jobs: ${jobsUnauthenticated.join(' | ')}` : ''}` : `rows and contents unchanged in ${TABLES.length} tables and pg-boss's jobs`,
      ),
      check(
        DRILL,
        'no 2xx without valid credentials, but for public pages',
        unauthenticated2xx.length === 0,
        unauthenticated2xx.length ? unauthenticated2xx.join(' | ') : `2xx only for ${PUBLIC_2XX.filter((kind) => answered2xxBefore.has(kind)).join(', ')}`,
      ),
      check(
        DRILL,
        'valid credentials with a wrong body or another company’s id: refused, nothing written',
        writtenAuthenticated.length === 0 && authenticated2xx === 0,
        `${authenticated2xx} answered 2xx${answered2xx.size ? ` (${[...answered2xx].join(' | ')})` : ''}; ${writtenAuthenticated.length ? writtenAuthenticated.join('; ') : 'rows and contents unchanged'}` +
          (jobsAuthenticated.length ? `; new jobs: ${jobsAuthenticated.join(' | ')}` : ''),
      ),
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

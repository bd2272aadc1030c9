import express, { type NextFunction, type Request, type Response } from 'express';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type RunningServer, listen } from '../kit/http-server';
import type { DottedSignSimulator } from '../dottedsign/dottedsign.simulator';
import type { PipedriveSimulator } from '../pipedrive/pipedrive.simulator';

export interface SandboxConsoleOptions {
  appUrl: string;
  pipedrive: PipedriveSimulator;
  dottedsign: DottedSignSimulator;
  /** Pipedrive's answer to the panel's GET_SIGNED_TOKEN. */
  signedToken(): string;
}

interface SimTask {
  task_id: number;
  status: string;
  metadata: Record<string, string>;
  stages: Array<{ signers: Array<{ name: string; email: string; status: string }> }>;
}

/** The files the console page is made of; read from the source tree so the compiled app serves them too. */
function pageFile(name: string): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return readFileSync(join(dir, 'src', 'sandbox', name), 'utf8');
}

/**
 * The sandbox console: a stand-in for Pipedrive's deal pages. It changes deals through the simulator's control
 * API (so the app hears about them by webhook, as in production) and hosts the app's real panel in an iframe.
 */
export async function startSandboxConsole(options: SandboxConsoleOptions): Promise<RunningServer> {
  const { pipedrive, dottedsign } = options;
  const { companyId, adminUserId } = pipedrive.demo;
  const sim = async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const answer = await fetch(`${pipedrive.url}/_sim/companies/${companyId}${path}`, {
      method: init.method ?? (init.body ? 'POST' : 'GET'),
      headers: init.body ? { 'content-type': 'application/json' } : {},
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    return { status: answer.status, body: (await answer.json()) as unknown };
  };
  const pages = {
    html: pageFile('console/console.html'),
    js: pageFile('console/console.js'),
    css: pageFile('console/console.css'),
    host: pageFile('extension-host/extension-host.js'),
  };

  const server = express();
  server.disable('x-powered-by');
  server.use(express.json({ limit: '16kb' }));
  server.get('/', (_req, res) => void res.type('html').send(pages.html));
  server.get('/console.js', (_req, res) => void res.type('js').send(pages.js));
  server.get('/console.css', (_req, res) => void res.type('css').send(pages.css));
  server.get('/favicon.ico', (_req, res) => void res.status(204).end());
  server.get('/extension-host.js', (_req, res) => void res.type('js').send(pages.host));

  server.get('/console-api/state', async (_req, res) => {
    const company = (await sim('')).body as { name: string; users: Array<{ id: number; name: string }> };
    const persons = (await sim('/persons')).body as Array<{ id: number; name: string; emails: Array<{ value: string }> }>;
    res.json({
      appUrl: options.appUrl,
      company: { id: companyId, name: company.name },
      user: company.users.find((user) => user.id === adminUserId),
      persons: persons.map((person) => ({ id: person.id, name: person.name, email: person.emails[0]?.value ?? null })),
      deals: (await sim('/deals')).body,
    });
  });
  server.post('/console-api/deals', async (req: Request, res: Response) => {
    const { title, personId } = (req.body ?? {}) as { title?: unknown; personId?: unknown };
    const created = await sim('/deals', { body: { title: String(title ?? '').trim() || 'New deal', person_id: Number(personId) || null, value: 5000, currency: 'EUR' } });
    res.status(created.status).json(created.body);
  });
  server.delete('/console-api/deals/:id', async (req, res) => {
    const deleted = await sim(`/deals/${Number(req.params.id)}`, { method: 'DELETE' });
    res.status(deleted.status).json(deleted.body);
  });
  server.get('/console-api/deals/:id', async (req, res) => {
    const dealId = Number(req.params.id);
    const deal = await sim(`/deals/${dealId}`);
    if (deal.status !== 200) return void res.status(deal.status).json(deal.body);
    const files = ((await sim('/files')).body as Array<{ id: number; deal_id: number; file_name: string; file_size: number; add_time: string }>).filter((file) => file.deal_id === dealId);
    const notes = ((await sim('/notes')).body as Array<{ id: number; deal_id: number; content: string; add_time: string }>).filter((note) => note.deal_id === dealId);
    const tasks = (await (await fetch(`${dottedsign.url}/_sim/tasks`)).json()) as SimTask[];
    const signing = tasks
      .filter((task) => task.metadata?.pipedrive_deal_id === String(dealId) && task.metadata?.pipedrive_company_id === String(companyId))
      .map((task) => ({
        taskId: task.task_id,
        status: task.status,
        signers: task.stages.flatMap((stage) => stage.signers).map((signer) => ({ ...signer, link: `${dottedsign.url}/sign/${task.task_id}?email=${encodeURIComponent(signer.email)}` })),
      }));
    res.json({ deal: deal.body, files, notes, signing });
  });
  server.get('/console-api/files/:id', async (req, res) => {
    const answer = await fetch(`${pipedrive.url}/_sim/companies/${companyId}/files/${Number(req.params.id)}/content`);
    res.status(answer.status).type(answer.headers.get('content-type') ?? 'application/octet-stream').send(Buffer.from(await answer.arrayBuffer()));
  });
  server.get('/console-api/token', (_req, res) => void res.set('cache-control', 'no-store').json({ token: options.signedToken() }));
  server.use((error: Error, _req: Request, res: Response, _next: NextFunction) => void res.status(502).json({ error: `the simulators did not answer: ${error.message}` }));
  return listen(server);
}

import { Router } from 'express';
import { DottedSignError } from './dottedsign-error';
import type { DottedSignStore } from './dottedsign-store';
import { escapeHtml as escape } from './html-escape';

/** A minimal signing page per signer, so a person in the sandbox can sign or decline by clicking. */
export function signingPageRoutes(store: DottedSignStore): Router {
  const router = Router();

  router.get('/sign/:taskId', (req, res) => {
    const task = store.tasks.get(Number(req.params.taskId));
    const email = String(req.query.email ?? '');
    if (!task || task.discarded) return res.status(404).type('html').send('<h1>No such document</h1>');
    const signer = store.findSigner(task, email);
    if (!signer) return res.status(404).type('html').send('<h1>You are not a signer of this document</h1>');
    // Only the first visit counts as viewing: the page reloads after every sign or decline.
    if (task.status === 'waiting' && signer.status === 'waiting') store.view(task, signer.email);
    const actionable = task.status === 'waiting' && signer.status === 'viewed';
    res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign ${escape(task.fileName)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}.doc{border:1px solid #ccd;padding:1.5rem;border-radius:8px;margin:1rem 0}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}</style></head>
<body><h1>${escape(task.fileName)}</h1><p>Signer: <strong>${escape(signer.name)}</strong> (${escape(signer.email)}) · your status: <strong data-testid="signer-status">${signer.status}</strong> · document: <strong data-testid="task-status">${task.status}</strong></p>
<div class="doc">This is a simulated contract from the DottedSign sandbox.</div>
${
  actionable
    ? `<form method="post" action="/sign/${task.id}"><input type="hidden" name="email" value="${escape(signer.email)}">
<button name="action" value="sign" data-testid="sign">Sign</button>
<button name="action" value="decline" data-testid="decline">Decline</button> <input name="reason" placeholder="Reason for declining"></form>`
    : '<p>Nothing left for you to do.</p>'
}</body></html>`);
  });

  router.post('/sign/:taskId', (req, res) => {
    const task = store.tasks.get(Number(req.params.taskId));
    const { email = '', action, reason } = (req.body ?? {}) as Record<string, string | undefined>;
    if (!task || task.discarded) return res.status(404).type('html').send('<h1>No such document</h1>');
    try {
      if (action === 'sign') store.sign(task, email);
      else if (action === 'decline') store.decline(task, email, reason?.trim() || null);
      else return res.status(400).type('html').send('<h1>Choose Sign or Decline</h1>');
    } catch (error) {
      if (error instanceof DottedSignError) return res.status(error.status).type('html').send(`<p>${escape(error.message)}</p>`);
      throw error;
    }
    res.redirect(303, `/sign/${task.id}?email=${encodeURIComponent(email)}`);
  });
  return router;
}

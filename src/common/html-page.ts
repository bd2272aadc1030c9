import type { FastifyReply } from 'fastify';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char]);
}

/** A small, self-contained page for the ends of browser flows (install, connect), never a stack trace. */
export function resultPage(page: { title: string; message: string; link?: { href: string; label: string } }): string {
  const link = page.link ? `<p><a href="${escapeHtml(page.link.href)}">${escapeHtml(page.link.label)}</a></p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#192435}h1{font-size:1.4rem}a{color:#1f6feb}</style>
</head><body><h1>${escapeHtml(page.title)}</h1><p>${escapeHtml(page.message)}</p>${link}</body></html>`;
}

export function sendHtml(reply: FastifyReply, status: number, html: string): void {
  reply.code(status).type('text/html; charset=utf-8').send(html);
}

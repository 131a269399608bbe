import { html, type Html } from './html.js';
import type { User } from './auth.js';

export interface PageContext {
  user: User | undefined;
  demo: boolean;
}

const NAV = [
  ['/search', 'Search'],
  ['/sessions', 'Sessions'],
  ['/timeline', 'Timelines'],
  ['/alerts', 'Alerts'],
  ['/integrity', 'Integrity'],
  ['/approvals', 'Approvals'],
] as const;

export function page(ctx: PageContext, title: string, active: string, body: Html, opts: { scripts?: string[] } = {}): string {
  return `<!doctype html>${
    html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · jwt-audit console</title>
<link rel="stylesheet" href="/static/console.css"><link rel="stylesheet" href="/static/uPlot.min.css">
</head><body>
<header><a class="brand" href="/search">jwt-audit console</a>
<nav>${ctx.user ? NAV.map(([href, label]) => html`<a href="${href}" class="${active === href ? 'active' : ''}">${label}</a>`) : ''}</nav>
<div class="who">${
      ctx.user
        ? html`<span id="signed-in-as">${ctx.user.sub}</span> <small>(${ctx.user.method === 'demo' ? 'demo login' : 'JWT'}; ${ctx.user.permissions.join(', ')})</small>
<form method="post" action="/logout" class="inline"><button type="submit">Sign out</button></form>`
        : ''
    }</div></header>
${ctx.demo ? html`<p class="demo-banner" id="demo-banner">Demo login: no identity provider is configured, so anyone can sign in with any name, with both <code>audit:read</code> and <code>audit:approve</code> (so anyone can decide approvals). This is for <code>npm start</code> only; configure AUDIT_CONSOLE_JWT_JWKS_URL for real use.</p>` : ''}
<main>${body}</main>
${(opts.scripts ?? []).map((s) => html`<script src="${s}"></script>`)}
</body></html>`.value
  }`;
}

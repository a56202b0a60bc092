import type { Response } from 'express';
import type { PageError } from '../errors.js';

/**
 * Server-rendered pages: the shared layout, error pages and the consent page. Everything
 * interpolated goes through `esc`. No client script, except the landing page's copy button,
 * allowed by a per-response nonce (see `sendPage`).
 */

export function esc(value: unknown): string {
  return String(value ?? '').replace(
    /[&<>"'`=/]/g,
    (c) => `&#${c.charCodeAt(0)};`,
  );
}

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1b1b;--muted:#4a4a4a;--bg:#f6f5f2;--card:#fff;--line:#d9d6d0;--accent:#1f4fd6;--warn-bg:#fff4d6;--warn-fg:#5c3d00}
@media (prefers-color-scheme:dark){:root{--fg:#f1f1f1;--muted:#c4c4c4;--bg:#191919;--card:#242424;--line:#3b3b3b;--accent:#8fb0ff;--warn-bg:#3d2f00;--warn-fg:#ffe3a0}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
main{max-width:34rem;margin:2rem auto;padding:0 1rem}main.wide{max-width:44rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}ol,ul{padding-left:1.4rem}li{margin:.3rem 0}
.note{border-left:4px solid var(--line);padding:.5rem .75rem;margin:1rem 0}
.row{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center}.row input{flex:1 1 14rem;min-width:0}
input[type=text]{font:inherit;font-family:ui-monospace,monospace;padding:.55rem;border:1px solid var(--muted);border-radius:8px;background:var(--bg);color:var(--fg);min-height:44px}
.grants{list-style:none;padding:0}.grants>li{border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem;margin:.75rem 0}
.grants form{margin-top:.5rem}
.workspaces{list-style:none;padding:0;margin:.25rem 0}.workspaces li{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between;border-top:1px solid var(--line);padding:.35rem 0;margin:0;overflow-wrap:anywhere}.workspaces li form{margin:0}
.activity{list-style:none;padding:0;margin:.25rem 0;border-bottom:1px solid var(--line)}.activity li{border-left:4px solid transparent;border-top:1px solid var(--line);padding:.35rem .6rem;margin:0;overflow-wrap:anywhere}.activity p{margin:.15rem 0}
.activity li.write{border-left:4px double var(--warn-fg);background:var(--warn-bg);color:var(--warn-fg)}.activity li.write a{color:inherit}
.tag{font-size:.8rem;font-weight:650;text-transform:uppercase;border:1px solid currentColor;border-radius:4px;padding:0 .3rem}.write .tag{font-weight:800}
.pager{display:flex;gap:1rem;justify-content:flex-end}.pager a{display:inline-block;padding:.6rem 0;min-height:44px}footer{margin:1.5rem 0;text-align:center}footer a{margin:0 .5rem}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.5rem}
h1{font-size:1.35rem;margin:0 0 1rem}p{margin:.5rem 0}.muted{color:var(--muted)}
.who{font-size:1.15rem;font-weight:650}.host{font-family:ui-monospace,monospace;background:var(--bg);padding:.1rem .35rem;border-radius:4px;word-break:break-all}
.warn{background:var(--warn-bg);color:var(--warn-fg);border-radius:8px;padding:.75rem;margin:1rem 0}
fieldset{border:1px solid var(--line);border-radius:8px;margin:1rem 0;padding:.5rem 1rem}legend{padding:0 .25rem;font-weight:600}
label{display:block;padding:.35rem 0}
.actions{display:flex;gap:.75rem;flex-wrap:wrap;margin-top:1.25rem}
button{font:inherit;border-radius:8px;padding:.6rem 1.2rem;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer;min-height:44px}
a.button{display:inline-block;text-decoration:none;border-radius:8px;padding:.6rem 1.2rem;min-height:44px;border:1px solid var(--accent)}
a.button.primary,button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
@media (prefers-color-scheme:dark){button.primary,a.button.primary{color:#111}}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
a{color:var(--accent)}
`;

const FOOTER = '<footer class="muted"><a href="/">About</a><a href="/connections">Your connections</a><a href="/privacy">Privacy</a><a href="/terms">Terms</a></footer>';

function layout(title: string, body: string, wide: boolean): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head><body><main${wide ? ' class="wide"' : ''}>${body}${FOOTER}</main></body></html>`;
}

export interface PageOptions {
  /** Allows the page's inline `<script nonce="...">` (and nothing else) to run. */
  scriptNonce?: string;
  wide?: boolean;
}

/** Pages that take decisions must never be framed (clickjacking), cached, or leak the referrer. */
export function sendPage(res: Response, status: number, title: string, body: string, opts: PageOptions = {}): void {
  const script = opts.scriptNonce ? `; script-src 'nonce-${opts.scriptNonce}'` : '';
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'${script}`,
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    })
    .send(layout(title, body, opts.wide ?? false));
}

export function sendErrorPage(res: Response, err: PageError): void {
  sendPage(
    res,
    err.status,
    err.title,
    `<div class="card" role="alert"><h1>${esc(err.title)}</h1><p>${esc(err.detail)}</p><p class="muted">${esc(err.next)}</p></div>`,
  );
}

export interface ConsentView {
  clientName: string;
  redirectHost: string;
  loopback: boolean;
  /** The redirect host is not Claude's (claude.ai, claude.com): a milder note. */
  unfamiliar: boolean;
  /** The client asked for write access too, so the user may choose. */
  canWrite: boolean;
  /** The toolset and lockdown fieldsets (settingsFields). */
  settings: string;
  consentId: string;
  csrf: string;
}

export interface NextWorkspaceView {
  clientName: string;
  /** Names of the workspaces authorized so far. */
  added: string[];
  /** Notion did not complete the last authorization (cancelled or failed). */
  lastFailed: boolean;
  next: string;
  csrf: string;
}

/** Between two Notion authorizations of one connection: add another workspace, or finish. */
export function sendNextWorkspacePage(res: Response, v: NextWorkspaceView): void {
  const items = v.added.map((n) => `<li>${esc(n)}</li>`).join('');
  sendPage(
    res,
    200,
    `Add another workspace for ${v.clientName}`,
    `<div class="card"><h1>Add another workspace?</h1>
${v.lastFailed ? '<p class="warn" role="alert">Notion did not complete the last authorization, so no workspace was added.</p>' : ''}
<p>${esc(v.clientName)} will use ${v.added.length === 1 ? 'this workspace' : 'these workspaces'}:</p>
<ul>${items}</ul>
<p>To add another, choose it on Notion's next screen (switch workspace at the top of that screen). Authorizing one already listed replaces it.</p>
<form method="post" action="/oauth/callback">
<input type="hidden" name="next" value="${esc(v.next)}"><input type="hidden" name="csrf" value="${esc(v.csrf)}">
<div class="actions"><button class="primary" type="submit" name="decision" value="finish">Finish</button><button type="submit" name="decision" value="another">Add another workspace</button></div>
</form></div>`,
  );
}

export function sendConsentPage(res: Response, v: ConsentView): void {
  const warn = v.loopback
    ? `<p class="warn" role="note"><strong>Check this:</strong> after you approve, the access is sent to <span class="host">${esc(v.redirectHost)}</span>, a program on your own computer. Approve only if you started this connection from an app you trust on this device.</p>`
    : v.unfamiliar
      ? `<p class="note" role="note"><strong>Not Claude:</strong> <span class="host">${esc(v.redirectHost)}</span> is not a Claude address. Approve only if you know this app and meant to connect it.</p>`
      : '';
  const access = v.canWrite
    ? `<fieldset><legend>Access</legend>
<label><input type="radio" name="access" value="write" checked> Read and write: search, read, create and edit pages</label>
<label><input type="radio" name="access" value="read"> Read only: search and read, never change anything</label></fieldset>`
    : `<p>Access: <strong>read only</strong> (search and read, never change anything).</p><input type="hidden" name="access" value="read">`;
  sendPage(
    res,
    200,
    `Connect ${v.clientName} to Notion`,
    `<div class="card"><h1>Connect to your Notion</h1>
<p class="who">${esc(v.clientName)}</p>
<p>wants to use your Notion through this connector. It will get access only to the pages you pick on Notion's next screen.</p>
<p>Approval is sent to <span class="host">${esc(v.redirectHost)}</span>.</p>
${warn}
<form method="post" action="/authorize">
<input type="hidden" name="consent" value="${esc(v.consentId)}"><input type="hidden" name="csrf" value="${esc(v.csrf)}"><input type="hidden" name="settings" value="1">
${access}
${v.settings}
<fieldset><legend>Workspaces</legend>
<label><input type="checkbox" name="workspaces" value="more"> Add more than one Notion workspace: after the first, you can authorize another</label></fieldset>
<p class="muted">You can change what it may use later under Your connections.</p>
<div class="actions"><button class="primary" type="submit" name="decision" value="approve">Approve and choose pages</button><button type="submit" name="decision" value="deny">Deny</button></div>
</form>
<p class="muted">If you did not start this from ${esc(v.clientName)}, choose Deny.</p></div>`,
  );
}

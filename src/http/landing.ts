import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { randomSecret } from '../lib/crypto.js';
import { esc, sendPage } from '../pages/html.js';

/** The public pages: `/` (what this is and how to connect), `/privacy` and `/terms`. */

/** The copy button's few lines; the rest of the page works without them (the field is selectable). */
const COPY_SCRIPT = `
var b=document.getElementById('copy'),f=document.getElementById('url'),s=document.getElementById('copied');
b.hidden=false;
b.addEventListener('click',function(){
  var done=function(){s.textContent='Copied to the clipboard.';};
  var fallback=function(){f.select();s.textContent='Press Ctrl+C (or \\u2318C) to copy the selected address.';};
  if(navigator.clipboard&&navigator.clipboard.writeText)navigator.clipboard.writeText(f.value).then(done,fallback);else fallback();
});`;

export function createLandingHandler(config: Config) {
  return async (_req: Request, res: Response): Promise<void> => {
    const nonce = randomSecret(16);
    const url = config.resource;
    sendPage(
      res,
      200,
      'Notion connector for Claude',
      `<div class="card"><h1>Use your Notion in Claude</h1>
<p>This connector lets Claude and other AI apps that speak MCP search, read and (if you allow it) edit pages in your Notion workspace.</p>
<h2>What it can and cannot see</h2>
<ul>
<li>Only the pages <strong>you pick on Notion's own screen</strong> when you connect. Nothing else in your workspace.</li>
<li>You choose <strong>read only</strong> or <strong>read and write</strong> on our approval page.</li>
<li>The people running this server never see your Notion password or credentials: your Notion access is stored encrypted and can be opened only with your app's own live connection.</li>
<li>You can end a connection at any time on <a href="/connections">Your connections</a>.</li>
</ul>
<h2>Connector address</h2>
<div class="row"><label class="vh" for="url">Connector address</label><input id="url" type="text" readonly value="${esc(url)}">
<button id="copy" type="button" hidden>Copy</button></div>
<p id="copied" class="muted" role="status" aria-live="polite"></p>
<h2>Connect Claude (web, desktop or mobile)</h2>
<ol>
<li>In Claude open <strong>Settings → Connectors</strong>.</li>
<li>Choose <strong>Add custom connector</strong>, give it a name such as “Notion”, and paste the address above.</li>
<li>Claude opens our approval page. Check that it names Claude, choose the access, then <strong>Approve</strong>.</li>
<li>On Notion's screen, pick the pages Claude may use and allow access.</li>
</ol>
<p class="muted">A connector added on the web also works in the Claude desktop and mobile apps.</p>
<h2>Other MCP apps</h2>
<p>Add a remote MCP server (Streamable HTTP) with the address above. The app signs in with OAuth on its own: it registers itself, opens our approval page in your browser, and then Notion's page picker.</p>
</div>
<script nonce="${nonce}">${COPY_SCRIPT}</script>`,
      { scriptNonce: nonce, wide: true },
    );
  };
}

/** `/privacy` and `/terms`: the operator's own page when configured, else a short default. */
export function createPolicyHandler(config: Config, which: 'privacy' | 'terms') {
  const target = which === 'privacy' ? config.links.privacyUrl : config.links.termsUrl;
  return async (_req: Request, res: Response): Promise<void> => {
    if (target) {
      res.redirect(302, target);
      return;
    }
    if (which === 'privacy') {
      sendPage(
        res,
        200,
        'Privacy',
        `<div class="card"><h1>Privacy</h1>
<p>This connector stores, for each connection: the app's name, your Notion user and workspace ids and names, your e-mail address as Notion reports it, the access you chose, and when the connection was made and last used.</p>
<p>Your Notion access is stored encrypted and can be opened only with your app's live connection; the server's operator cannot read it. Page content passes through the server on its way to your app and is not stored.</p>
<p>It also keeps an activity log of each connection's tool calls for ${config.activityRetentionMs / 86_400_000} days: when, which tool, whether it read or changed something, whether it worked, and the ids and titles of the Notion pages involved, never their content. You can read it on <a href="/connections">Your connections</a>.</p>
<p>Disconnecting on <a href="/connections">Your connections</a> deletes the connection's record and its activity log at once.</p>
<p class="muted">The operator has not published a separate privacy policy.</p></div>`,
      );
      return;
    }
    sendPage(
      res,
      200,
      'Terms',
      `<div class="card"><h1>Terms</h1>
<p>This connector is provided as is, without warranty. Use it only with Notion workspaces you are allowed to connect to third-party apps.</p>
<p class="muted">The operator has not published separate terms.</p></div>`,
    );
  };
}

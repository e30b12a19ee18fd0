// Entry point: session, sign-in, hash router and navigation.
import { ApiError, del, get, post, setCsrf } from './api.js';
import { clear, h, message } from './dom.js';
import * as live from './live.js';
import { renderOverview } from './views/overview.js';
import { renderPipelines, renderPipeline } from './views/pipeline.js';
import { renderRun } from './views/run.js';
import { renderLag } from './views/lag.js';
import { renderAlerts } from './views/alerts.js';

const main = document.getElementById('main');
let session = null;
let cleanup = null;

const ROUTES = [
  [/^#\/overview$/, () => renderOverview],
  [/^#\/pipelines$/, () => renderPipelines],
  [/^#\/pipeline\/([^/]+)$/, () => renderPipeline],
  [/^#\/run\/([^/]+)$/, () => renderRun],
  [/^#\/lag$/, () => renderLag],
  [/^#\/alerts$/, () => renderAlerts],
];

async function route() {
  if (!session) return;
  if (cleanup) cleanup();
  cleanup = null;
  const hash = location.hash || '#/overview';
  for (const a of document.querySelectorAll('#nav a')) {
    const target = a.getAttribute('href');
    if (hash === target || (target === '#/pipelines' && /^#\/(pipeline|run)\//.test(hash))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clear(main);
  for (const [re, view] of ROUTES) {
    const m = re.exec(hash);
    if (!m) continue;
    try {
      cleanup = (await view()(main, { session, readOnly: session.read_only }, ...m.slice(1).map(decodeURIComponent))) || null;
    } catch (err) {
      main.append(h('p', { class: 'msg error', role: 'alert' }, `This view could not be loaded: ${err.message}`));
      if (err instanceof ApiError && err.status === 401) signedOut();
    }
    main.focus({ preventScroll: true });
    return;
  }
  location.hash = '#/overview';
}

function showSignIn(problem) {
  clear(main);
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('live').hidden = true;
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'token-help' });
  const form = h(
    'form',
    { class: 'signin panel', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'muted' }, 'A token created with ', h('code', {}, 'supervisor tokens create --name NAME'), ' (add --read-only for a read-only session).'),
    problem ? h('p', { class: 'msg error', role: 'alert' }, problem) : null,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      session = await post('/ui/session', { token: input.value.trim() });
      signedIn();
    } catch (err) {
      showSignIn(err.status === 429 ? err.message : 'That token was not accepted (unknown or revoked).');
    }
  });
  main.append(form);
  input.focus();
}

function signedIn() {
  setCsrf(session.csrf);
  document.getElementById('nav').hidden = false;
  const who = document.getElementById('who');
  who.hidden = false;
  who.textContent = `Signed in as ${session.name}${session.read_only ? ' (read-only)' : ''}`;
  document.getElementById('signout').hidden = false;
  live.connect(document.getElementById('live'));
  void route();
}

function signedOut() {
  session = null;
  if (cleanup) cleanup();
  cleanup = null;
  live.disconnect();
  showSignIn();
}

document.getElementById('signout').addEventListener('click', async () => {
  try {
    await del('/ui/session');
  } catch (err) {
    message(`Sign-out failed: ${err.message}`, 'error');
    return;
  }
  signedOut();
});

window.addEventListener('hashchange', () => void route());

(async () => {
  try {
    session = await get('/ui/session');
    signedIn();
  } catch {
    showSignIn();
  }
})();

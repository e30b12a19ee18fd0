// One EventSource to /api/v1/live for the whole page. The browser resends Last-Event-ID when it
// reconnects, and the server replays what was missed (or sends a snapshot): never a reload.
const listeners = new Set();
export const signals = new Map();
export let alerts = [];
let source = null;
let statusEl = null;

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(type, data) {
  for (const fn of [...listeners]) {
    try {
      fn(type, data);
    } catch (err) {
      console.error(err);
    }
  }
}

function status(text) {
  if (!statusEl) return;
  statusEl.hidden = false;
  statusEl.textContent = text;
}

export function connect(el) {
  statusEl = el;
  if (source) return;
  source = new EventSource('/api/v1/live');
  source.addEventListener('open', () => status('● live'));
  source.addEventListener('error', () => status('○ reconnecting…'));
  source.addEventListener('snapshot', (e) => {
    const d = JSON.parse(e.data);
    signals.clear();
    for (const s of d.signals) signals.set(key(s), s);
    alerts = d.alerts;
    emit('reset', d);
  });
  source.addEventListener('signals', (e) => {
    const d = JSON.parse(e.data);
    for (const k of d.removed) signals.delete(k);
    for (const c of d.changed) signals.set(c.key, c.signal);
    emit('signals', d);
  });
  source.addEventListener('alerts', (e) => {
    alerts = JSON.parse(e.data).alerts;
    emit('alerts', alerts);
  });
  source.addEventListener('run', (e) => emit('run', JSON.parse(e.data)));
}

export function disconnect() {
  if (source) source.close();
  source = null;
  listeners.clear();
  signals.clear();
  alerts = [];
}

/** The server's signal key: check, target and sorted labels. */
export function key(s) {
  const labels = Object.keys(s.labels || {})
    .sort()
    .map((k) => `${k}=${s.labels[k] ?? ''}`)
    .join(',');
  return `${s.check}|${s.target}|${labels}`;
}

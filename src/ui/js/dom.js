// Small DOM helpers: element builder, state badges (symbol + text, never colour alone), time formatting.

export function h(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_TAGS.has(tag) ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

const SVG_TAGS = new Set(['svg', 'g', 'rect', 'text', 'line', 'path', 'polyline', 'title', 'circle', 'defs', 'marker']);

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el` (nulls skipped, arrays flattened, like h()). */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const SYMBOLS = {
  ok: '✓',
  success: '✓',
  delivered: '✓',
  warn: '!',
  pending: '…',
  crit: '✗',
  failed: '✗',
  firing: '🔔',
  timed_out: '⏱',
  upstream_failed: '⚠',
  running: '▶',
  queued: '⋯',
  retrying: '↻',
  up_for_retry: '↻',
  skipped: '↷',
  cancelled: '⊘',
  unknown: '?',
  resolved: '✓',
  none: '–',
};

export const symbol = (state) => SYMBOLS[state] || '•';

/** A state badge: symbol and word, coloured by state. */
export function badge(state, label) {
  const s = state || 'none';
  return h('span', { class: `badge s-${s}` }, `${symbol(s)} ${label || s.replace(/_/g, ' ')}`);
}

export function iso(ms) {
  return ms === null || ms === undefined ? '—' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const hh = Math.floor(m / 60);
  if (hh < 48) return `${hh}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(hh / 24)}d${hh % 24}h`;
}

export const ago = (ms) => (ms ? `${duration(Date.now() - ms)} ago` : '—');

export function formatValue(value, unit) {
  if (value === undefined || value === null) return '—';
  if (unit === 'seconds') return duration(value * 1000);
  if (unit === 'ratio') return `${(value * 100).toFixed(1)}%`;
  if (unit === 'bytes') return `${(value / 1048576).toFixed(1)} MB`;
  return `${Number.isInteger(value) ? value : value.toFixed(2)}${unit && unit !== 'count' ? ` ${unit}` : ''}`;
}

/** A live region message (errors stay until dismissed, info fades). */
export function message(text, kind = 'info') {
  const box = document.getElementById('messages');
  const el = h(
    'div',
    { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : null },
    text,
    ' ',
    h('button', { type: 'button', onclick: () => el.remove(), 'aria-label': 'Dismiss message' }, '×'),
  );
  box.append(el);
  if (kind !== 'error') setTimeout(() => el.remove(), 6000);
  while (box.childElementCount > 5) box.firstElementChild.remove();
}

/** A table from column definitions: [{ label, cell(row) → node|string, num? }]. */
export function table(columns, rows, opts = {}) {
  return h(
    'table',
    { class: opts.class },
    opts.caption ? h('caption', { class: 'muted' }, opts.caption) : null,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', { scope: 'col' }, c.label)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.length === 0
        ? h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, opts.empty || 'none'))
        : rows.map((r) =>
            h(
              'tr',
              {},
              columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(r))),
            ),
          ),
    ),
  );
}

/** Calls fn at most once per animation frame however often it is scheduled. */
export function throttle(fn) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  };
}

// The DAG as SVG: tasks in columns by depth, boxes around task groups, each task's state of the
// selected run as fill AND as text in the node.
import { h, symbol } from '../dom.js';

const FILL = {
  success: '#d5f0dc',
  failed: '#fbd9d7',
  upstream_failed: '#fbd9d7',
  timed_out: '#fbd9d7',
  running: '#dbe8fb',
  queued: '#dbe8fb',
  retrying: '#fff0c2',
  up_for_retry: '#fff0c2',
  skipped: '#fff0c2',
  cancelled: '#e8eaed',
};

export function dagGraph(tasks, states, title) {
  const depth = new Map();
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const d = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const t = byId.get(id);
    const v = t && t.upstream.length ? 1 + Math.max(...t.upstream.map((u) => d(u, seen))) : 0;
    depth.set(id, v);
    return v;
  };
  for (const t of tasks) d(t.id);
  const columns = [];
  for (const t of tasks) (columns[depth.get(t.id)] ||= []).push(t);
  for (const col of columns) if (col) col.sort((a, b) => String(a.group || '').localeCompare(String(b.group || '')));
  const W = 190;
  const H = 44;
  const GX = 60;
  const GY = 22;
  const pos = new Map();
  columns.forEach((col, ci) => (col || []).forEach((t, ri) => pos.set(t.id, { x: 20 + ci * (W + GX), y: 30 + ri * (H + GY) })));
  const width = 40 + columns.length * (W + GX) - GX;
  const height = 60 + Math.max(1, ...columns.map((c) => (c ? c.length : 0))) * (H + GY);
  const groups = new Map();
  for (const t of tasks) if (t.group) (groups.get(t.group) || groups.set(t.group, []).get(t.group)).push(pos.get(t.id));
  const parts = [];
  for (const [g, ps] of groups) {
    const x0 = Math.min(...ps.map((p) => p.x)) - 8;
    const y0 = Math.min(...ps.map((p) => p.y)) - 18;
    const x1 = Math.max(...ps.map((p) => p.x)) + W + 8;
    const y1 = Math.max(...ps.map((p) => p.y)) + H + 8;
    parts.push(
      h(
        'g',
        {},
        h('rect', { x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: 'none', stroke: '#6b7580', 'stroke-dasharray': '4 3', rx: 6 }),
        h('text', { x: x0 + 6, y: y0 + 12, fill: '#4f5963' }, `group ${g}`),
      ),
    );
  }
  for (const t of tasks)
    for (const u of t.upstream) {
      const a = pos.get(u);
      const b = pos.get(t.id);
      if (a && b)
        parts.push(
          h('path', {
            d: `M${a.x + W},${a.y + H / 2} C${a.x + W + GX / 2},${a.y + H / 2} ${b.x - GX / 2},${b.y + H / 2} ${b.x},${b.y + H / 2}`,
            fill: 'none',
            stroke: '#6b7580',
            'marker-end': 'url(#arrow)',
          }),
        );
    }
  for (const t of tasks) {
    const p = pos.get(t.id);
    const st = states[t.id]?.state || null;
    parts.push(
      h(
        'g',
        {},
        h('rect', { x: p.x, y: p.y, width: W, height: H, rx: 5, fill: FILL[st] || '#ffffff', stroke: '#1b1f24' }),
        h('text', { x: p.x + 8, y: p.y + 17, 'font-weight': 600, fill: '#1b1f24' }, t.id.length > 26 ? `${t.id.slice(0, 25)}…` : t.id),
        h('text', { x: p.x + 8, y: p.y + 34, fill: '#1b1f24' }, st ? `${symbol(st)} ${st.replace(/_/g, ' ')}` : 'no state'),
      ),
    );
  }
  return h(
    'svg',
    {
      class: 'graph',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': `${title}: ${tasks.map((t) => `${t.id} ${states[t.id]?.state || 'no state'}`).join(', ')}`,
    },
    h('title', {}, title),
    h(
      'defs',
      {},
      h(
        'marker',
        { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' },
        h('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#6b7580' }),
      ),
    ),
    parts,
  );
}

// Lag and tables: per consumer group lag (messages, seconds), Burrow status per partition and a
// sparkline from the daemon's in-memory history; per Delta table version, last data change and
// freshness against its threshold. Live: redrawn on signal changes.
import { get } from '../api.js';
import { ago, badge, duration, fill, formatValue, h, iso, table, throttle } from '../dom.js';
import * as live from '../live.js';

const BURROW = { OK: 'ok', WARN: 'warn', STALL: 'crit', STOP: 'crit', REWIND: 'warn', ERR: 'crit', NOTFOUND: 'unknown' };

function sparkline(points, label) {
  const W = 220;
  const H = 40;
  const values = points.map((p) => p.lag).filter((v) => v !== null);
  if (values.length < 2) return h('span', { class: 'muted' }, 'history: collecting…');
  const max = Math.max(1, ...values);
  const t0 = points[0].t;
  const t1 = Math.max(t0 + 1, points[points.length - 1].t);
  const xy = points.filter((p) => p.lag !== null).map((p) => `${(((p.t - t0) / (t1 - t0)) * (W - 4) + 2).toFixed(1)},${(H - 2 - (p.lag / max) * (H - 4)).toFixed(1)}`);
  return h(
    'svg',
    {
      class: 'spark',
      width: W,
      height: H,
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label': `${label}: lag over the last ${duration(t1 - t0)}, from ${values[0]} to ${values[values.length - 1]} messages, peak ${max}`,
    },
    h('rect', { x: 0, y: 0, width: W, height: H, fill: '#f5f7f9', stroke: '#c9d1d9' }),
    h('polyline', { points: xy.join(' '), fill: 'none', stroke: '#0b57d0', 'stroke-width': 2 }),
  );
}

export async function renderLag(main) {
  const groupsBox = h('section', { 'aria-labelledby': 'h-groups' });
  const tablesBox = h('section', { 'aria-labelledby': 'h-tables' });
  main.append(h('h1', {}, 'Lag and tables'), groupsBox, tablesBox);
  let history = {};
  const draw = () => {
    const all = [...live.signals.entries()];
    const groups = all.filter(([, s]) => s.kind === 'consumer_lag');
    fill(
      groupsBox,
      h('h2', { id: 'h-groups' }, `Consumer groups (${groups.length})`),
      groups.length === 0 ? h('p', { class: 'muted' }, 'No consumer lag check reports.') : null,
      groups.map(([key, s]) => {
        const f = s.facts && s.facts.kind === 'consumer_lag' ? s.facts : null;
        return h(
          'div',
          { class: 'panel' },
          h('h3', {}, f ? `Group ${f.group}` : s.target, ' ', badge(s.status)),
          h(
            'dl',
            { class: 'kv' },
            h('dt', {}, 'Burrow status'),
            h('dd', {}, f ? badge(BURROW[f.status] || 'unknown', f.status) : '—'),
            h('dt', {}, 'Lag'),
            h(
              'dd',
              {},
              f ? `${f.totalLag} messages, ${f.maxLagSeconds === null ? 'seconds unknown' : formatValue(f.maxLagSeconds, 'seconds')} behind` : formatValue(s.value, s.unit),
            ),
            h('dt', {}, 'Observed'),
            h('dd', {}, ago(s.observedAt)),
            h('dt', {}, 'Reason'),
            h('dd', {}, s.summary),
            h('dt', {}, 'History'),
            h('dd', {}, sparkline(history[key] || [], f ? f.group : s.target)),
          ),
          f
            ? table(
                [
                  { label: 'Topic', cell: (p) => p.topic },
                  { label: 'Partition', num: true, cell: (p) => p.partition },
                  { label: 'Committed', num: true, cell: (p) => p.committedOffset ?? 'never' },
                  { label: 'End', num: true, cell: (p) => p.endOffset },
                  { label: 'Lag (msgs)', num: true, cell: (p) => p.lag ?? '—' },
                  { label: 'Lag (s)', num: true, cell: (p) => (p.lagSeconds === null ? '—' : formatValue(p.lagSeconds, 'seconds')) },
                  { label: 'Status', cell: (p) => badge(BURROW[p.status] || 'unknown', p.status) },
                ],
                f.partitions,
                { caption: `Partitions of ${f.group}` },
              )
            : null,
        );
      }),
    );
    const tables = all.map(([, s]) => s).filter((s) => s.kind === 'delta_freshness');
    fill(
      tablesBox,
      h('h2', { id: 'h-tables' }, `Delta tables (${tables.length})`),
      table(
        [
          { label: 'Status', cell: (s) => badge(s.status) },
          { label: 'Table', cell: (s) => (s.facts?.table ? `${s.facts.table} (${s.target})` : s.target) },
          { label: 'Version', num: true, cell: (s) => s.facts?.version ?? '—' },
          {
            label: 'Last data change',
            cell: (s) =>
              s.facts?.lastDataChangeAt ? `${iso(s.facts.lastDataChangeAt)} (v${s.facts.lastDataChangeVersion})` : s.facts?.lowerBound ? `not found (${s.facts.lowerBound})` : '—',
          },
          { label: 'Freshness', num: true, cell: (s) => (s.facts?.ageSeconds != null ? formatValue(s.facts.ageSeconds, 'seconds') : '—') },
          { label: 'Threshold', num: true, cell: (s) => (s.facts?.thresholdSeconds != null ? formatValue(s.facts.thresholdSeconds, 'seconds') : formatValue(s.threshold, s.unit)) },
          { label: 'Reason', cell: (s) => s.summary },
        ],
        tables,
        { empty: 'No Delta freshness check reports.' },
      ),
    );
  };
  const fetchHistory = async () => {
    history = (await get('/api/v1/ui/lag-history')).history;
  };
  await fetchHistory();
  draw();
  const redraw = throttle(draw);
  let pending = null;
  const off = live.subscribe((type, d) => {
    if (type === 'reset') redraw();
    if (type !== 'signals') return;
    const lag = d.changed.some((c) => c.signal.kind === 'consumer_lag');
    if (lag && !pending)
      pending = setTimeout(
        () =>
          void fetchHistory().then(
            () => {
              pending = null;
              redraw();
            },
            () => {
              pending = null;
            },
          ),
        300,
      );
    else redraw();
  });
  return () => {
    off();
    clearTimeout(pending);
  };
}

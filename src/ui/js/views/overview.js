// Overview: every current signal grouped by check kind, firing and pending alerts, pipelines.
import { enc, get } from '../api.js';
import { ago, badge, fill, formatValue, h, iso, table, throttle } from '../dom.js';
import * as live from '../live.js';

const KIND_TITLES = {
  kafka_cluster: 'Kafka cluster',
  consumer_lag: 'Consumer lag',
  schema_registry: 'Schema registry',
  delta_freshness: 'Delta tables',
  spark: 'Spark',
  pipeline_deadline: 'Pipeline deadlines',
};
const ORDER = { crit: 0, unknown: 1, warn: 2, ok: 3 };

export function signalTables(signals) {
  const byKind = new Map();
  for (const s of signals) {
    if (!byKind.has(s.kind)) byKind.set(s.kind, []);
    byKind.get(s.kind).push(s);
  }
  const out = [];
  for (const [kind, list] of [...byKind].sort((a, b) => a[0].localeCompare(b[0]))) {
    list.sort((a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9) || a.check.localeCompare(b.check) || a.target.localeCompare(b.target));
    out.push(
      h('h3', {}, `${KIND_TITLES[kind] || kind} (${list.length})`),
      table(
        [
          { label: 'Status', cell: (s) => badge(s.status) },
          { label: 'Check', cell: (s) => s.check },
          { label: 'Target', cell: (s) => s.target },
          { label: 'Value', num: true, cell: (s) => formatValue(s.value, s.unit) },
          { label: 'Threshold', num: true, cell: (s) => formatValue(s.threshold, s.unit) },
          { label: 'Age', cell: (s) => h('span', { 'data-at': s.observedAt }, ago(s.observedAt)) },
          { label: 'Reason', cell: (s) => (s.error ? `${s.summary} (${s.error.code || 'error'})` : s.summary) },
        ],
        list,
        { class: 'signals' },
      ),
    );
  }
  return out.length ? out : [h('p', { class: 'muted' }, 'No signals yet: the checks have not reported.')];
}

export function alertTable(alerts, empty) {
  return table(
    [
      { label: 'State', cell: (a) => badge(a.state) },
      { label: 'Rule', cell: (a) => a.rule },
      { label: 'Severity', cell: (a) => a.severity },
      {
        label: 'Labels',
        cell: (a) =>
          Object.entries(a.labels || {})
            .map(([k, v]) => `${k}=${v}`)
            .join(', '),
      },
      { label: 'Since', cell: (a) => iso(a.firedAt ?? a.activeSince ?? null) },
      { label: 'Summary', cell: (a) => a.summary || '' },
      { label: 'Notes', cell: (a) => [a.silencedBy?.length ? `silenced by ${a.silencedBy.join(', ')}` : '', a.inhibited ? 'inhibited' : ''].filter(Boolean).join('; ') || '—' },
    ],
    alerts,
    { empty },
  );
}

export async function renderOverview(main) {
  const signalsBox = h('section', { 'aria-labelledby': 'h-signals' });
  const alertsBox = h('section', { 'aria-labelledby': 'h-alerts' });
  const pipelinesBox = h('section', { 'aria-labelledby': 'h-pipelines' });
  const summary = h('p', { id: 'summary' });
  main.append(h('h1', {}, 'Overview'), summary, alertsBox, pipelinesBox, signalsBox);

  const drawSignals = () => {
    const all = [...live.signals.values()];
    const counts = { ok: 0, warn: 0, crit: 0, unknown: 0 };
    for (const s of all) counts[s.status] = (counts[s.status] || 0) + 1;
    fill(
      summary,
      `${all.length} signals: `,
      badge('ok', `${counts.ok} ok`),
      ' ',
      badge('warn', `${counts.warn} warn`),
      ' ',
      badge('crit', `${counts.crit} crit`),
      ' ',
      badge('unknown', `${counts.unknown} unknown`),
    );
    fill(signalsBox, h('h2', { id: 'h-signals' }, 'Signals'), ...signalTables(all));
  };
  const drawAlerts = () => {
    const active = live.alerts.filter((a) => a.state === 'firing' || a.state === 'pending');
    fill(alertsBox, h('h2', { id: 'h-alerts' }, `Alerts firing or pending (${active.length})`), alertTable(active, 'No alert is firing or pending.'));
  };
  const drawPipelines = async () => {
    const { pipelines } = await get('/api/v1/pipelines');
    const schedules = await Promise.all(pipelines.map((p) => get(`/api/v1/ui/pipelines/${enc(p.id)}/schedule?ticks=1`).catch(() => null)));
    fill(
      pipelinesBox,
      h('h2', { id: 'h-pipelines' }, 'Pipelines'),
      table(
        [
          { label: 'Pipeline', cell: (p) => h('a', { href: `#/pipeline/${enc(p.id)}` }, p.id) },
          { label: 'Schedule', cell: (p) => p.schedule || 'manual / events' },
          { label: 'Last run', cell: (p) => (p.last_run ? [badge(p.last_run.state), ' ', h('a', { href: `#/run/${enc(p.last_run.id)}` }, p.last_run.logical_date)] : '—') },
          { label: 'Next run', cell: (p) => schedules[pipelines.indexOf(p)]?.next_ticks?.[0] || '—' },
          { label: 'Paused', cell: (p) => (p.paused ? badge('skipped', 'paused') : 'no') },
          { label: 'Deadline', cell: (p) => (p.deadline ? deadlineText(p.deadline) : '—') },
        ],
        pipelines,
      ),
    );
  };
  const redraw = throttle(drawSignals);
  drawSignals();
  drawAlerts();
  await drawPipelines();
  let pipelineTimer = null;
  const off = live.subscribe((type, data) => {
    if (type === 'signals' || type === 'reset') redraw();
    if (type === 'alerts' || type === 'reset') drawAlerts();
    if (type === 'run' && data.type === 'run') {
      clearTimeout(pipelineTimer);
      pipelineTimer = setTimeout(() => void drawPipelines().catch(() => undefined), 500);
    }
  });
  const ages = setInterval(() => {
    for (const el of main.querySelectorAll('[data-at]')) el.textContent = ago(Number(el.getAttribute('data-at')));
  }, 5000);
  return () => {
    off();
    clearInterval(ages);
    clearTimeout(pipelineTimer);
  };
}

function deadlineText(d) {
  if (typeof d !== 'object') return String(d);
  const state = d.state || d.status;
  return [state ? badge(state === 'missed' ? 'failed' : state === 'met' ? 'success' : 'pending', state) : null, d.at || d.due || d.within ? ` ${d.at || d.due || d.within}` : ''];
}

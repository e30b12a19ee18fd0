// Pipelines list, and one pipeline: actions, schedule, graph of the selected run, grid of runs ×
// tasks (server-paged by keyset, groups collapsible), run list with filters. Live: run events.
import { enc, get } from '../api.js';
import { backfillDialog, pauseDialog, triggerDialog } from '../actions.js';
import { badge, duration, fill, h, iso, symbol, table } from '../dom.js';
import * as live from '../live.js';
import { dagGraph } from './graph.js';

const RUN_STATES = ['queued', 'running', 'success', 'failed', 'skipped', 'timed_out', 'cancelled'];
const KINDS = ['cron', 'manual', 'lag', 'offsets', 'backfill', 'test'];
const WORST = ['failed', 'upstream_failed', 'timed_out', 'retrying', 'up_for_retry', 'running', 'queued', 'cancelled', 'skipped', 'success'];

export async function renderPipelines(main) {
  const { pipelines } = await get('/api/v1/pipelines');
  main.append(
    h('h1', {}, 'Pipelines'),
    table(
      [
        { label: 'Pipeline', cell: (p) => h('a', { href: `#/pipeline/${enc(p.id)}` }, p.id) },
        { label: 'Description', cell: (p) => p.description || '' },
        { label: 'Schedule', cell: (p) => p.schedule || 'manual / events' },
        { label: 'Tasks', num: true, cell: (p) => p.tasks.length },
        { label: 'Last run', cell: (p) => (p.last_run ? badge(p.last_run.state) : '—') },
        { label: 'Paused', cell: (p) => (p.paused ? badge('skipped', 'paused') : 'no') },
      ],
      pipelines,
    ),
  );
}

export async function renderPipeline(main, ctx, id) {
  const [info, schedule, list] = await Promise.all([get(`/api/v1/pipelines/${enc(id)}`), get(`/api/v1/ui/pipelines/${enc(id)}/schedule?ticks=5`), get('/api/v1/pipelines')]);
  // the persisted pause state (the list's), not the config's
  const listed = list.pipelines.find((p) => p.id === info.id);
  const state = { filters: { state: '', kind: '' }, cursors: [], before: null, page: null, selected: null, collapsed: new Set() };
  const actions = h('div', { class: 'actions' });
  const graphBox = h('section', { 'aria-labelledby': 'h-graph' });
  const gridBox = h('section', { 'aria-labelledby': 'h-grid' });
  const listBox = h('section', { 'aria-labelledby': 'h-runs' });
  let paused = Boolean(listed ? listed.paused : schedule.paused);

  const drawActions = () => {
    if (ctx.readOnly) return fill(actions, h('p', { class: 'muted' }, 'Read-only session: no actions.'));
    fill(
      actions,
      h('button', { type: 'button', class: 'primary', onclick: async () => (await triggerDialog(id)) && load() }, 'Trigger…'),
      h('button', { type: 'button', onclick: async () => (await backfillDialog(id)) && load() }, 'Backfill…'),
      h(
        'button',
        {
          type: 'button',
          onclick: async () => {
            const r = await pauseDialog(id, paused);
            if (r) {
              paused = Boolean(r.paused);
              drawSchedule();
              drawActions();
            }
          },
        },
        paused ? 'Unpause…' : 'Pause…',
      ),
    );
  };
  const scheduleBox = h('section', { 'aria-labelledby': 'h-schedule', class: 'panel' });
  const drawSchedule = () =>
    fill(
      scheduleBox,
      h('h2', { id: 'h-schedule' }, 'Schedule'),
      h(
        'dl',
        { class: 'kv' },
        h('dt', {}, 'Schedule'),
        h('dd', {}, schedule.schedule ? `${schedule.schedule} (${schedule.timezone})` : 'none (manual and event triggers only)'),
        h('dt', {}, 'Paused'),
        h('dd', {}, paused ? badge('skipped', 'paused') : 'no'),
        h('dt', {}, 'Next ticks'),
        h('dd', {}, schedule.next_ticks.length ? schedule.next_ticks.join(', ') : '—'),
        h('dt', {}, 'Catchup / overlap'),
        h('dd', {}, `${schedule.catchup ? 'catchup' : 'no catchup'}, overlap ${schedule.overlap}`),
        h('dt', {}, 'Triggers'),
        h(
          'dd',
          {},
          schedule.triggers.length
            ? h(
                'ul',
                {},
                schedule.triggers.map((t) =>
                  h(
                    'li',
                    {},
                    Object.entries(t)
                      .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
                      .join(', '),
                  ),
                ),
              )
            : 'schedule only',
        ),
        h('dt', {}, 'Gate'),
        h(
          'dd',
          {},
          schedule.gate
            ? Object.entries(schedule.gate)
                .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
                .join(', ')
            : 'none',
        ),
      ),
    );

  const filterForm = h(
    'form',
    { class: 'filters', 'aria-label': 'Run filters' },
    h(
      'label',
      {},
      'State',
      h(
        'select',
        { name: 'state' },
        h('option', { value: '' }, 'any'),
        RUN_STATES.map((s) => h('option', { value: s }, s)),
      ),
    ),
    h(
      'label',
      {},
      'Trigger',
      h(
        'select',
        { name: 'kind' },
        h('option', { value: '' }, 'any'),
        KINDS.map((k) => h('option', { value: k }, k)),
      ),
    ),
    h('button', { type: 'submit' }, 'Apply filters'),
  );
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(filterForm);
    state.filters = { state: String(d.get('state') || ''), kind: String(d.get('kind') || '') };
    state.before = null;
    state.cursors = [];
    void load();
  });

  const load = async () => {
    const q = new URLSearchParams({ limit: '50' });
    if (state.before) q.set('before', state.before);
    if (state.filters.state) q.set('state', state.filters.state);
    if (state.filters.kind) q.set('kind', state.filters.kind);
    state.page = await get(`/api/v1/ui/pipelines/${enc(id)}/grid?${q}`);
    if (!state.selected || !state.page.runs.some((r) => r.id === state.selected)) state.selected = state.page.runs[0]?.id || null;
    drawGrid();
    drawGraph();
    drawList();
  };

  const drawGraph = () => {
    const run = state.page.runs.find((r) => r.id === state.selected);
    fill(
      graphBox,
      h('h2', { id: 'h-graph' }, 'Graph'),
      h('p', { class: 'muted' }, run ? ['State of run ', h('a', { href: `#/run/${enc(run.id)}` }, run.id), ' ', badge(run.state)] : 'No run selected.'),
      dagGraph(state.page.tasks, run ? run.tasks : {}, `DAG of ${id}`),
    );
  };

  const select = (runId) => {
    state.selected = runId;
    drawGrid();
    drawGraph();
  };

  const drawGrid = () => {
    const { runs, tasks } = state.page;
    const rows = [];
    const groups = new Map();
    for (const t of tasks) {
      const g = t.group || '';
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(t);
    }
    const cell = (run, ts, label) => {
      const st = ts?.state || 'none';
      return h(
        'td',
        {},
        h('button', {
          type: 'button',
          class: `cell badge s-${st}${run.id === state.selected ? ' selected' : ''}`,
          'aria-label': `${label}, run ${iso(run.logicalDate)}: ${st.replace(/_/g, ' ')}${ts?.tryNumber > 1 ? `, try ${ts.tryNumber}` : ''}`,
          'aria-pressed': run.id === state.selected ? 'true' : 'false',
          onclick: () => select(run.id),
          ondblclick: () => (location.hash = `#/run/${enc(run.id)}`),
          text: symbol(st),
        }),
      );
    };
    rows.push(
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, 'run'),
        runs.map((r) => cell(r, { state: r.state }, 'run state')),
      ),
    );
    for (const [g, list] of groups) {
      if (g) {
        const open = !state.collapsed.has(g);
        rows.push(
          h(
            'tr',
            {},
            h(
              'th',
              { scope: 'row', class: 'group' },
              h(
                'button',
                {
                  type: 'button',
                  'aria-expanded': open ? 'true' : 'false',
                  onclick: () => {
                    if (open) state.collapsed.add(g);
                    else state.collapsed.delete(g);
                    drawGrid();
                  },
                },
                `${open ? '▾' : '▸'} group ${g}`,
              ),
            ),
            runs.map((r) => {
              const worst = WORST.find((w) => list.some((t) => r.tasks[t.id]?.state === w));
              return open ? h('td', {}) : cell(r, worst ? { state: worst } : null, `group ${g}`);
            }),
          ),
        );
        if (!open) continue;
      }
      for (const t of list)
        rows.push(
          h(
            'tr',
            {},
            h('th', { scope: 'row', class: 'task' }, g ? `  ${t.id}` : t.id),
            runs.map((r) => cell(r, r.tasks[t.id], t.id)),
          ),
        );
    }
    const nav = h(
      'div',
      { class: 'actions' },
      h(
        'button',
        {
          type: 'button',
          disabled: state.cursors.length === 0,
          onclick: () => {
            state.before = state.cursors.pop() ?? null;
            void load();
          },
        },
        '◂ Newer runs',
      ),
      h(
        'button',
        {
          type: 'button',
          disabled: !state.page.next,
          onclick: () => {
            state.cursors.push(state.before);
            state.before = state.page.next;
            void load();
          },
        },
        'Older runs ▸',
      ),
      h('span', { class: 'muted' }, `${runs.length} runs on this page, newest first. Select a cell to show that run in the graph; open a run from the list below.`),
    );
    fill(
      gridBox,
      h('h2', { id: 'h-grid' }, 'Grid'),
      nav,
      h(
        'div',
        { class: 'grid-wrap' },
        h(
          'table',
          { class: 'grid' },
          h('caption', { class: 'muted' }, `Runs × tasks of ${id}`),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'task'),
              runs.map((r) => h('th', { scope: 'col', class: 'run' }, iso(r.logicalDate).slice(0, 16))),
            ),
          ),
          h('tbody', {}, rows),
        ),
      ),
    );
  };

  const drawList = () => {
    fill(
      listBox,
      h('h2', { id: 'h-runs' }, 'Runs'),
      filterForm,
      table(
        [
          { label: 'Run', cell: (r) => h('a', { href: `#/run/${enc(r.id)}` }, r.id) },
          { label: 'Logical date', cell: (r) => iso(r.logicalDate) },
          { label: 'Trigger', cell: (r) => r.kind },
          { label: 'State', cell: (r) => badge(r.state) },
          { label: 'Started', cell: (r) => iso(r.startedAt) },
          { label: 'Duration', num: true, cell: (r) => (r.startedAt ? duration((r.endedAt ?? Date.now()) - r.startedAt) : '—') },
          { label: 'Reason', cell: (r) => r.reason || '' },
        ],
        state.page.runs,
        { empty: 'No runs match.' },
      ),
    );
  };

  main.append(h('h1', {}, `Pipeline ${id}`), info.description ? h('p', {}, info.description) : null, actions, scheduleBox, graphBox, gridBox, listBox);
  drawActions();
  drawSchedule();
  await load();

  let timer = null;
  const off = live.subscribe((type, e) => {
    if (type !== 'run' || e.pipeline !== info.id) return;
    const run = state.page.runs.find((r) => r.id === e.runId);
    if (run && e.type === 'task') {
      run.tasks[e.taskId] = { ...(run.tasks[e.taskId] || {}), state: e.state, tryNumber: e.attempt };
    } else if (run && e.type === 'run') run.state = e.state;
    if (run) {
      drawGrid();
      if (run.id === state.selected) drawGraph();
    } else if (!state.before) {
      clearTimeout(timer);
      timer = setTimeout(() => void load().catch(() => undefined), 300);
    }
  });
  return () => {
    off();
    clearTimeout(timer);
  };
}

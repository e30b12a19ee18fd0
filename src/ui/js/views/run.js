// One run: actions, Gantt of every task try, task logs (tail first, page back, follow live,
// download), attempts, params (conf), audit trail. Live: the run's events redraw the Gantt.
import { ApiError, enc, get } from '../api.js';
import { cancelDialog, clearDialog, markDialog } from '../actions.js';
import { badge, duration, fill, h, iso, symbol, table } from '../dom.js';
import * as live from '../live.js';
import { logPanel } from './log.js';

const BAR = {
  success: '#2e7d32',
  failed: '#c62828',
  upstream_failed: '#c62828',
  timed_out: '#c62828',
  running: '#1565c0',
  queued: '#5c6bc0',
  retrying: '#b26a00',
  up_for_retry: '#b26a00',
  skipped: '#8d6e00',
  cancelled: '#616161',
};

export function gantt(attempts, now) {
  if (attempts.length === 0) return h('p', { class: 'muted' }, 'No task has started yet.');
  const t0 = Math.min(...attempts.map((a) => a.startedAt));
  const t1 = Math.max(...attempts.map((a) => a.endedAt ?? now), t0 + 1000);
  const LABEL = 230;
  const W = 900;
  const ROW = 24;
  const scale = (t) => LABEL + ((t - t0) / (t1 - t0)) * (W - LABEL - 90);
  const rows = attempts.map((a, i) => {
    const y = 24 + i * ROW;
    const end = a.endedAt ?? now;
    const x = scale(a.startedAt);
    const w = Math.max(2, scale(end) - x);
    return h(
      'g',
      { 'data-task': a.taskId },
      h('text', { x: 4, y: y + 15, fill: '#1b1f24' }, `${a.taskId} · try ${a.tryNumber}`),
      h(
        'rect',
        { x, y: y + 3, width: w, height: ROW - 8, rx: 3, fill: BAR[a.state] || '#616161' },
        h('title', {}, `${a.taskId} try ${a.tryNumber}: ${a.state}, ${iso(a.startedAt)} → ${a.endedAt ? iso(a.endedAt) : 'running'} (${duration(end - a.startedAt)})`),
      ),
      h('text', { x: x + w + 4, y: y + 15, fill: '#1b1f24' }, `${symbol(a.state)} ${a.state.replace(/_/g, ' ')} ${duration(end - a.startedAt)}`),
    );
  });
  const height = 34 + attempts.length * ROW;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const t = t0 + f * (t1 - t0);
    return h(
      'g',
      {},
      h('line', { x1: scale(t), x2: scale(t), y1: 18, y2: height, stroke: '#c9d1d9' }),
      h('text', { x: scale(t) - 14, y: 12, fill: '#4f5963' }, `+${duration(t - t0)}`),
    );
  });
  return h(
    'svg',
    {
      class: 'gantt',
      width: W,
      height,
      viewBox: `0 0 ${W} ${height}`,
      role: 'img',
      'aria-label': `Gantt of ${attempts.length} task tries: ${attempts.map((a) => `${a.taskId} try ${a.tryNumber} ${a.state}`).join(', ')}`,
    },
    ticks,
    rows,
  );
}

export async function renderRun(main, ctx, runId) {
  let run = await get(`/api/v1/ui/runs/${enc(runId)}`);
  let detail = await get(`/api/v1/runs/${enc(runId)}/tasks`);
  const head = h('div');
  const actions = h('div', { class: 'actions' });
  const ganttBox = h('section', { 'aria-labelledby': 'h-gantt' });
  const attemptsBox = h('section', { 'aria-labelledby': 'h-attempts' });
  const auditBox = h('section', { 'aria-labelledby': 'h-audit' });
  const logBox = h('section', { 'aria-labelledby': 'h-logs' });
  let log = null;
  let selectedTask = detail.tasks[0]?.taskId || null;

  const drawHead = () =>
    fill(
      head,
      h('h1', {}, `Run ${run.id}`),
      h(
        'dl',
        { class: 'kv' },
        h('dt', {}, 'Pipeline'),
        h('dd', {}, h('a', { href: `#/pipeline/${enc(run.pipeline)}` }, run.pipeline)),
        h('dt', {}, 'State'),
        h('dd', { id: 'run-state' }, badge(run.state)),
        h('dt', {}, 'Logical date'),
        h('dd', {}, iso(run.logicalDate)),
        h('dt', {}, 'Trigger'),
        h('dd', {}, run.kind),
        h('dt', {}, 'Started / ended'),
        h('dd', {}, `${iso(run.startedAt)} → ${iso(run.endedAt)}`),
        run.reason ? [h('dt', {}, 'Reason'), h('dd', {}, run.reason)] : null,
        h('dt', {}, 'Params (conf)'),
        h('dd', {}, h('pre', { class: 'json' }, JSON.stringify(run.params || {}, null, 2))),
      ),
    );
  const drawActions = () => {
    if (ctx.readOnly) return fill(actions, h('p', { class: 'muted' }, 'Read-only session: no actions.'));
    const done = !['queued', 'running'].includes(run.state);
    fill(
      actions,
      h('button', { type: 'button', class: 'danger', disabled: done, onclick: async () => (await cancelDialog(run.id)) && refresh() }, 'Cancel run…'),
      h('button', { type: 'button', onclick: async () => (await clearDialog(run.id, detail.tasks)) && refresh() }, 'Clear tasks…'),
      h('button', { type: 'button', onclick: async () => (await markDialog(run.id)) && refresh() }, 'Mark run…'),
      selectedTask ? h('button', { type: 'button', onclick: async () => (await markDialog(run.id, selectedTask)) && refresh() }, `Mark task ${selectedTask}…`) : null,
    );
  };
  const drawGantt = () => fill(ganttBox, h('h2', { id: 'h-gantt' }, 'Gantt'), gantt(detail.attempts, Date.now()));
  const drawAttempts = () =>
    fill(
      attemptsBox,
      h('h2', { id: 'h-attempts' }, 'Tasks and attempts'),
      table(
        [
          { label: 'Task', cell: (t) => t.taskId },
          { label: 'State', cell: (t) => badge(t.state) },
          { label: 'Try', num: true, cell: (t) => `${t.tryNumber} of ${t.maxTries}` },
          { label: 'Started', cell: (t) => iso(t.startedAt) },
          { label: 'Duration', num: true, cell: (t) => (t.startedAt ? duration((t.endedAt ?? Date.now()) - t.startedAt) : '—') },
          { label: 'Reason', cell: (t) => t.reason || '' },
        ],
        detail.tasks,
      ),
      table(
        [
          { label: 'Task', cell: (a) => a.taskId },
          { label: 'Try', num: true, cell: (a) => a.tryNumber },
          { label: 'State', cell: (a) => badge(a.state) },
          { label: 'Started', cell: (a) => iso(a.startedAt) },
          { label: 'Ended', cell: (a) => iso(a.endedAt) },
          { label: 'Exit', num: true, cell: (a) => a.exitCode ?? '—' },
          { label: 'Error', cell: (a) => a.error || '' },
        ],
        detail.attempts,
        { caption: 'Every attempt', empty: 'No attempt yet.' },
      ),
    );
  const drawAudit = async () => {
    try {
      const { entries } = await get(`/api/v1/audit?run=${enc(run.id)}&limit=100`);
      fill(
        auditBox,
        h('h2', { id: 'h-audit' }, 'Audit trail'),
        table(
          [
            { label: 'When', cell: (e) => (typeof e.at === 'number' ? iso(e.at) : e.at) },
            { label: 'Who', cell: (e) => e.actor },
            { label: 'Action', cell: (e) => e.action },
            { label: 'Target', cell: (e) => e.target },
            { label: 'Reason', cell: (e) => e.reason || '' },
          ],
          entries,
          { empty: 'No operator action on this run.' },
        ),
      );
    } catch (err) {
      fill(
        auditBox,
        h('h2', { id: 'h-audit' }, 'Audit trail'),
        h('p', { class: 'muted' }, err instanceof ApiError && err.status === 404 ? 'This supervisor has no audit trail API yet.' : `Audit trail unavailable: ${err.message}`),
      );
    }
  };
  const drawLogs = () => {
    if (log) log.close();
    log = null;
    const tabs = h(
      'div',
      { class: 'tabs', role: 'group', 'aria-label': 'Task whose log is shown' },
      detail.tasks.map((t) =>
        h(
          'button',
          {
            type: 'button',
            'aria-pressed': t.taskId === selectedTask ? 'true' : 'false',
            onclick: () => {
              selectedTask = t.taskId;
              drawLogs();
              drawActions();
            },
          },
          `${symbol(t.state)} ${t.taskId}`,
        ),
      ),
    );
    const panel = h('div');
    fill(logBox, h('h2', { id: 'h-logs' }, 'Logs'), tabs, panel);
    if (selectedTask) log = logPanel(panel, run.id, selectedTask);
  };

  const refresh = async () => {
    [run, detail] = await Promise.all([get(`/api/v1/ui/runs/${enc(runId)}`), get(`/api/v1/runs/${enc(runId)}/tasks`)]);
    if (!selectedTask) selectedTask = detail.tasks[0]?.taskId || null;
    drawHead();
    drawActions();
    drawGantt();
    drawAttempts();
    void drawAudit();
    // the task tabs show each task's current state
    for (const b of logBox.querySelectorAll('.tabs button')) {
      const t = detail.tasks.find((x) => b.textContent.endsWith(` ${x.taskId}`));
      if (t) b.textContent = `${symbol(t.state)} ${t.taskId}`;
    }
  };

  main.append(head, actions, ganttBox, logBox, attemptsBox, auditBox);
  drawHead();
  drawActions();
  drawGantt();
  drawAttempts();
  drawLogs();
  void drawAudit();

  let timer = null;
  const off = live.subscribe((type, e) => {
    if (type === 'reset' || (type === 'run' && e.runId === run.id)) {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const hadLog = log !== null;
        void refresh().then(() => {
          if (!hadLog && selectedTask) drawLogs();
          else if (log && type === 'run' && e.type === 'task' && e.taskId === selectedTask && e.state === 'running') drawLogs();
        });
      }, 200);
    }
  });
  // running bars grow with the clock
  const tick = setInterval(() => {
    if (detail.attempts.some((a) => a.endedAt === null)) drawGantt();
  }, 1000);
  return () => {
    off();
    clearTimeout(timer);
    clearInterval(tick);
    if (log) log.close();
  };
}

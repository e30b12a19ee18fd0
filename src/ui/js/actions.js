// Write actions, each behind a dialog that says what will happen. Shown to write sessions only;
// the server refuses a read-only session's writes anyway (403).
import { enc, post } from './api.js';
import { fill, h, iso, message } from './dom.js';

/**
 * A modal dialog: `fields` (form controls) and `describe()` (what will happen, re-read when the
 * form changes). Resolves with the form's FormData on confirm, null on cancel. `preview(form)`
 * (optional) runs on its own button and may return nodes to show (a dry run).
 */
export function confirmDialog({ title, describe, fields = [], confirmLabel = 'Confirm', danger = false, preview }) {
  return new Promise((resolve) => {
    const what = h('p', { class: 'what', id: 'dialog-what' });
    const previewBox = h('div', { 'aria-live': 'polite' });
    const form = h('form', { method: 'dialog', class: 'stack' }, fields);
    const refresh = () => {
      what.textContent = describe(new FormData(form));
    };
    form.addEventListener('input', refresh);
    const dialog = h(
      'dialog',
      { 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-what' },
      h('h2', { id: 'dialog-title' }, title),
      form,
      what,
      previewBox,
      h(
        'menu',
        {},
        preview
          ? h(
              'button',
              {
                type: 'button',
                onclick: async () => {
                  fill(previewBox, h('p', { class: 'muted' }, 'Computing preview…'));
                  try {
                    fill(previewBox, ...[await preview(new FormData(form))].flat());
                  } catch (err) {
                    fill(previewBox, h('p', { class: 'msg error', role: 'alert' }, err.message));
                  }
                },
              },
              'Preview (dry run)',
            )
          : null,
        h('button', { type: 'button', onclick: () => dialog.close('cancel') }, 'Cancel'),
        h('button', { type: 'button', class: danger ? 'danger' : 'primary', onclick: () => dialog.close('confirm') }, confirmLabel),
      ),
    );
    dialog.addEventListener('close', () => {
      const data = new FormData(form);
      dialog.remove();
      resolve(dialog.returnValue === 'confirm' ? data : null);
    });
    document.body.append(dialog);
    refresh();
    dialog.showModal();
  });
}

const field = (label, control) => h('label', {}, label, control);
const reasonField = () => field('Reason (recorded in the audit trail)', h('input', { name: 'reason', maxlength: 500 }));
const reasonOf = (data) => {
  const r = String(data.get('reason') || '').trim();
  return r ? { reason: r } : {};
};

async function run(what, fn) {
  try {
    const result = await fn();
    message(`${what}: done`);
    return result;
  } catch (err) {
    message(`${what} failed: ${err.status === 404 ? `${err.message} (is this operation available on this supervisor?)` : err.message}`, 'error');
    return null;
  }
}

export async function triggerDialog(pipeline) {
  const data = await confirmDialog({
    title: `Trigger ${pipeline}`,
    fields: [
      field('Logical date (optional, ISO 8601; empty = now)', h('input', { name: 'logical_date', placeholder: '2025-10-05T06:00:00Z' })),
      field('Conf (JSON object, optional)', h('textarea', { name: 'conf', rows: 4, placeholder: '{"source_name": "phishtank"}' })),
    ],
    describe: (d) =>
      `Creates a run of ${pipeline} for ${String(d.get('logical_date') || '').trim() || 'now'}${String(d.get('conf') || '').trim() ? ' with the conf above' : ''}; it starts as soon as the pipeline's overlap policy allows. If a run for that logical date exists, it is shown instead.`,
    confirmLabel: 'Trigger run',
  });
  if (!data) return null;
  const body = {};
  const date = String(data.get('logical_date') || '').trim();
  if (date) body.logical_date = date;
  const conf = String(data.get('conf') || '').trim();
  if (conf) {
    try {
      body.conf = JSON.parse(conf);
    } catch (err) {
      message(`Conf is not valid JSON: ${err.message}`, 'error');
      return null;
    }
  }
  return run(`Trigger ${pipeline}`, () => post(`/api/v1/pipelines/${enc(pipeline)}/trigger`, body));
}

export async function backfillDialog(pipeline) {
  const bodyOf = (d, dryRun) => ({
    start_date: String(d.get('start_date') || '').trim(),
    end_date: String(d.get('end_date') || '').trim(),
    reprocess: String(d.get('reprocess') || 'none'),
    dry_run: dryRun,
  });
  const data = await confirmDialog({
    title: `Backfill ${pipeline}`,
    fields: [
      field('Start date', h('input', { name: 'start_date', required: true, placeholder: '2025-10-01' })),
      field('End date', h('input', { name: 'end_date', required: true, placeholder: '2025-10-02' })),
      field(
        'Reprocess',
        h(
          'select',
          { name: 'reprocess' },
          h('option', { value: 'none' }, 'none: only dates without a run'),
          h('option', { value: 'failed' }, 'failed: also re-run failed dates'),
          h('option', { value: 'all' }, 'all: re-run every date'),
        ),
      ),
    ],
    describe: (d) =>
      `Creates one run of ${pipeline} per schedule tick from ${d.get('start_date') || '?'} to ${d.get('end_date') || '?'} (reprocess: ${d.get('reprocess')}). Use Preview to see the logical dates first.`,
    preview: async (d) => {
      const plan = await post(`/api/v1/pipelines/${enc(pipeline)}/backfill`, bodyOf(d, true));
      const items = plan.plan || [];
      return [
        h(
          'p',
          {},
          `${items.length} logical date(s): ${Object.entries(plan.counts || {})
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        ),
        h(
          'ul',
          {},
          items.slice(0, 50).map((p) => h('li', {}, `${iso(p.logicalDate)} — ${p.action}${p.existing ? ` (existing: ${p.existing.state})` : ''}`)),
        ),
        items.length > 50 ? h('p', { class: 'muted' }, `… and ${items.length - 50} more`) : null,
      ];
    },
    confirmLabel: 'Start backfill',
  });
  if (!data) return null;
  return run(`Backfill ${pipeline}`, () => post(`/api/v1/pipelines/${enc(pipeline)}/backfill`, bodyOf(data, false)));
}

export async function pauseDialog(pipeline, paused) {
  const verb = paused ? 'Unpause' : 'Pause';
  const data = await confirmDialog({
    title: `${verb} ${pipeline}`,
    fields: [reasonField()],
    describe: () =>
      paused
        ? `${pipeline} schedules and event triggers fire again from now on (missed ticks follow the catchup setting).`
        : `No new scheduled or triggered runs of ${pipeline} start while paused; runs already going continue.`,
    confirmLabel: verb,
  });
  if (!data) return null;
  return run(`${verb} ${pipeline}`, () => post(`/api/v1/pipelines/${enc(pipeline)}/${paused ? 'unpause' : 'pause'}`, reasonOf(data)));
}

export async function cancelDialog(runId) {
  const data = await confirmDialog({
    title: 'Cancel run',
    fields: [reasonField()],
    describe: () => `Stops run ${runId}: running tasks are killed, tasks not started are not started; the run ends as cancelled.`,
    confirmLabel: 'Cancel run',
    danger: true,
  });
  if (!data) return null;
  return run('Cancel run', () => post(`/api/v1/runs/${enc(runId)}/cancel`, reasonOf(data)));
}

export async function clearDialog(runId, tasks) {
  const boxes = tasks.map((t) => h('label', {}, h('input', { type: 'checkbox', name: 'task', value: t.taskId }), ` ${t.taskId} (${t.state})`));
  const data = await confirmDialog({
    title: 'Clear tasks',
    fields: [
      h('fieldset', {}, h('legend', {}, 'Tasks (none ticked = every task)'), boxes),
      h('label', {}, h('input', { type: 'checkbox', name: 'downstream' }), ' and their downstream tasks'),
      h('label', {}, h('input', { type: 'checkbox', name: 'upstream' }), ' and their upstream tasks'),
      h('label', {}, h('input', { type: 'checkbox', name: 'only_failed' }), ' only failed ones'),
      h('label', {}, h('input', { type: 'checkbox', name: 'confirm_reingest' }), ' I know this may re-run an ingestion for this logical date'),
      reasonField(),
    ],
    describe: (d) => {
      const picked = d.getAll('task');
      return `Resets ${picked.length ? picked.join(', ') : 'every task'}${d.get('downstream') ? ' and downstream' : ''}${d.get('upstream') ? ' and upstream' : ''}${d.get('only_failed') ? ' (failed only)' : ''} of ${runId} so they run again; earlier tries stay in the attempts and logs.`;
    },
    confirmLabel: 'Clear',
    danger: true,
  });
  if (!data) return null;
  const picked = data.getAll('task').map(String);
  const body = { ...reasonOf(data), downstream: data.get('downstream') !== null, upstream: data.get('upstream') !== null, only_failed: data.get('only_failed') !== null };
  if (picked.length) body.tasks = picked;
  if (data.get('confirm_reingest') !== null) body.confirm_reingest = true;
  return run('Clear', () => post(`/api/v1/runs/${enc(runId)}/clear`, body));
}

export async function markDialog(runId, taskId) {
  const target = taskId ? `task ${taskId} of ${runId}` : `run ${runId}`;
  const data = await confirmDialog({
    title: `Mark ${taskId ? 'task' : 'run'}`,
    fields: [field('New state', h('select', { name: 'state' }, h('option', { value: 'success' }, 'success'), h('option', { value: 'failed' }, 'failed'))), reasonField()],
    describe: (d) => `Sets ${target} to ${d.get('state')} without running anything; downstream tasks and alerts see the new state.`,
    confirmLabel: 'Mark',
    danger: true,
  });
  if (!data) return null;
  const path = taskId ? `/api/v1/runs/${enc(runId)}/tasks/${enc(taskId)}/mark` : `/api/v1/runs/${enc(runId)}/mark`;
  return run(`Mark ${target}`, () => post(path, { state: String(data.get('state')), ...reasonOf(data) }));
}

// Alerts: firing, pending, silenced and inhibited alerts; silences (create, extend, expire);
// notification deliveries (pending, retrying, failed, with the sink's last error).
import { del, enc, get, post } from '../api.js';
import { confirmDialog } from '../actions.js';
import { badge, fill, h, iso, message, table } from '../dom.js';
import * as live from '../live.js';
import { alertTable } from './overview.js';

const matchersText = (m) =>
  Object.entries(m || {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

function parseMatchers(text) {
  const out = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`matcher "${part}" is not label=value (or label=~regex)`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  if (Object.keys(out).length === 0) throw new Error('at least one matcher is needed');
  return out;
}

export async function renderAlerts(main, ctx) {
  const alertsBox = h('section', { 'aria-labelledby': 'h-active' });
  const silencesBox = h('section', { 'aria-labelledby': 'h-silences' });
  const deliveriesBox = h('section', { 'aria-labelledby': 'h-deliveries' });
  main.append(h('h1', {}, 'Alerts'), alertsBox, silencesBox, deliveriesBox);

  const drawAlerts = () => {
    const all = live.alerts;
    const silenced = all.filter((a) => a.silencedBy?.length && a.state !== 'resolved');
    const inhibited = all.filter((a) => a.inhibited && a.state !== 'resolved');
    const plain = (state) => all.filter((a) => a.state === state && !a.silencedBy?.length && !a.inhibited);
    fill(
      alertsBox,
      h('h2', { id: 'h-active' }, 'Alert instances'),
      h('h3', {}, `Firing (${plain('firing').length})`),
      alertTable(plain('firing'), 'Nothing firing.'),
      h('h3', {}, `Pending (${plain('pending').length})`),
      alertTable(plain('pending'), 'Nothing pending.'),
      h('h3', {}, `Silenced (${silenced.length})`),
      alertTable(silenced, 'Nothing silenced.'),
      h('h3', {}, `Inhibited (${inhibited.length})`),
      alertTable(inhibited, 'Nothing inhibited.'),
    );
  };

  const silenceForm = (initial) => [
    h('label', {}, 'Matchers (label=value, label=~regex; comma separated)', h('input', { name: 'matchers', value: initial?.matchers || '', required: true })),
    h('label', {}, 'Duration (e.g. 2h, 30m, 1d)', h('input', { name: 'duration', value: initial?.duration || '2h', required: true })),
    h('label', {}, 'Comment', h('input', { name: 'comment', value: initial?.comment || '', required: true, maxlength: 1000 })),
  ];

  const createSilence = async (initial, replaces) => {
    const data = await confirmDialog({
      title: replaces ? 'Extend silence' : 'New silence',
      fields: silenceForm(initial),
      describe: (d) =>
        `Alerts whose labels match ${d.get('matchers') || '…'} send no notification for ${d.get('duration') || '…'} from now${replaces ? `; silence ${replaces} is expired once the new one exists` : ''}. They stay visible here as silenced.`,
      confirmLabel: replaces ? 'Extend' : 'Create silence',
    });
    if (!data) return;
    try {
      const created = await post('/api/v1/silences', {
        matchers: parseMatchers(String(data.get('matchers'))),
        duration: String(data.get('duration')).trim(),
        comment: String(data.get('comment')).trim(),
      });
      if (replaces) await del(`/api/v1/silences/${enc(replaces)}`);
      message(`Silence ${created.id} created`);
    } catch (err) {
      message(`Silence not created: ${err.message}`, 'error');
    }
    await drawSilences();
  };

  const drawSilences = async () => {
    const { silences } = await get('/api/v1/silences');
    fill(
      silencesBox,
      h('h2', { id: 'h-silences' }, `Silences (${silences.length} active)`),
      ctx.readOnly ? null : h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: () => void createSilence() }, 'New silence…')),
      table(
        [
          { label: 'Matchers', cell: (s) => matchersText(s.matchers) },
          { label: 'Ends', cell: (s) => iso(s.endsAt) },
          { label: 'By', cell: (s) => s.createdBy },
          { label: 'Comment', cell: (s) => s.comment },
          ...(ctx.readOnly
            ? []
            : [
                {
                  label: 'Actions',
                  cell: (s) => [
                    h('button', { type: 'button', onclick: () => void createSilence({ matchers: matchersText(s.matchers), comment: s.comment, duration: '2h' }, s.id) }, 'Extend…'),
                    ' ',
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'danger',
                        onclick: async () => {
                          const ok = await confirmDialog({
                            title: 'Expire silence',
                            describe: () => `Silence ${s.id} (${matchersText(s.matchers)}) ends now: matching alerts notify again.`,
                            confirmLabel: 'Expire',
                            danger: true,
                          });
                          if (!ok) return;
                          try {
                            await del(`/api/v1/silences/${enc(s.id)}`);
                            message('Silence expired');
                          } catch (err) {
                            message(`Expire failed: ${err.message}`, 'error');
                          }
                          await drawSilences();
                        },
                      },
                      'Expire…',
                    ),
                  ],
                },
              ]),
        ],
        silences,
        { empty: 'No active silence.' },
      ),
    );
  };

  const drawDeliveries = async () => {
    const { deliveries } = await get('/api/v1/ui/deliveries');
    fill(
      deliveriesBox,
      h('h2', { id: 'h-deliveries' }, 'Notification deliveries'),
      table(
        [
          { label: 'State', cell: (d) => badge(d.state) },
          { label: 'Sink', cell: (d) => d.sink },
          { label: 'Notification', cell: (d) => d.title || d.dedupKey },
          { label: 'Attempts', num: true, cell: (d) => d.attempts },
          { label: 'Next attempt', cell: (d) => (d.state === 'pending' || d.state === 'retrying' ? iso(d.nextAttemptAt) : '—') },
          { label: 'Created', cell: (d) => iso(d.createdAt) },
          { label: 'Last error', cell: (d) => d.lastError || '' },
        ],
        deliveries,
        { empty: 'No delivery pending, retrying or failed.' },
      ),
    );
  };

  drawAlerts();
  await Promise.all([drawSilences(), drawDeliveries()]);
  let timer = null;
  const off = live.subscribe((type) => {
    if (type === 'alerts' || type === 'reset') {
      drawAlerts();
      clearTimeout(timer);
      timer = setTimeout(() => void drawDeliveries().catch(() => undefined), 1000);
    }
  });
  return () => {
    off();
    clearTimeout(timer);
  };
}

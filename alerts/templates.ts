/**
 * Every message body the alerts produce: rule summary templates, the notification title and
 * plain text, the email (text + HTML) and Slack Block Kit payloads. Sinks call these; no
 * message wording lives anywhere else.
 */
import type { Notification, NotificationItem } from '../src/protocol';
import { formatDuration } from './duration';

export type TemplateVars = Readonly<Record<string, unknown>>;

/** `{{ name }}` and `{{ labels.x }}` substitution; unknown names render empty. */
export function renderTemplate(template: string, vars: TemplateVars): string {
  return template
    .replace(/\{\{\s*([A-Za-z_][\w.]*)\s*\}\}/g, (_, path: string) => {
      let value: unknown = vars;
      for (const part of path.split('.')) {
        // own properties only: `{{ labels.constructor }}` or `{{ __proto__ }}` render empty, not Object's internals
        value = value !== null && typeof value === 'object' && Object.hasOwn(value, part) ? (value as Record<string, unknown>)[part] : undefined;
      }
      if (value === undefined || value === null) return '';
      if (typeof value === 'number') return formatNumber(value);
      if (typeof value === 'string') return value;
      if (typeof value === 'boolean' || typeof value === 'bigint') return value.toString();
      return JSON.stringify(value) ?? '';
    })
    .replace(/\s+/g, ' ')
    .trim();
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100);
}

/** "2h30m" for seconds, "1200 messages" otherwise. */
export function formatValue(value: number | undefined, unit: string | undefined): string {
  if (value === undefined) return '';
  if (unit === 'seconds') return formatDuration(value * 1000);
  if (unit === 'ratio') return `${formatNumber(value * 100)}%`;
  return unit && unit !== 'count' ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

function iso(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

const KIND_WORD: Record<Notification['kind'], string> = { firing: 'FIRING', resolved: 'RESOLVED', info: 'INFO' };
const SEVERITY_EMOJI: Record<string, string> = { critical: ':red_circle:', warning: ':large_orange_circle:', info: ':information_source:' };

/** `[FIRING:2] data_stale (check=gold_freshness)` — Alertmanager's default subject. */
export function notificationTitle(kind: Notification['kind'], rule: string, count: number, groupLabels: Readonly<Record<string, string>>): string {
  const shown = Object.entries(groupLabels)
    .filter(([k]) => k !== 'alertname')
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `[${KIND_WORD[kind]}${kind === 'info' ? '' : `:${count}`}] ${rule}${shown ? ` (${shown})` : ''}`;
}

function itemLine(item: NotificationItem): string {
  const value = item.value !== undefined ? formatValue(item.value, item.unit) : '';
  const vs = value && item.threshold !== undefined ? `${value} vs threshold ${formatValue(item.threshold, item.unit)}` : value;
  return `- ${item.name}: ${item.status}${vs ? ` — ${vs}` : ''}${item.summary ? ` — ${item.summary}` : ''}${item.since ? ` (since ${iso(item.since)})` : ''}`;
}

/** Plain-text body: what, since when, value vs threshold, link. */
export function notificationText(n: Omit<Notification, 'text' | 'title'>): string {
  const lines: string[] = [];
  if (n.kind === 'info') {
    lines.push(n.annotations.summary ?? n.rule);
    if (n.annotations.description) lines.push(n.annotations.description);
    lines.push(`At: ${iso(n.startsAt)}`);
  } else {
    lines.push(`${KIND_WORD[n.kind]} · ${n.severity} · ${n.rule}`);
    if (n.annotations.summary) lines.push(n.annotations.summary);
    if (n.annotations.description && n.annotations.description !== n.annotations.summary) lines.push(n.annotations.description);
    lines.push(n.kind === 'resolved' ? `Firing since ${iso(n.startsAt)}, resolved at ${iso(n.endsAt)}` : `Firing since ${iso(n.startsAt)}`);
    for (const item of n.items) lines.push(itemLine(item));
  }
  if (n.url) lines.push(`Link: ${n.url}`);
  return lines.join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const KIND_COLOUR: Record<Notification['kind'], string> = { firing: '#c0392b', resolved: '#27ae60', info: '#2c7be5' };

export function renderEmail(n: Notification, subjectPrefix: string): { subject: string; text: string; html: string } {
  const subject = `${subjectPrefix ? `${subjectPrefix} ` : ''}${n.title}`;
  const rows = n.items
    .map((item) => {
      const value = item.value !== undefined ? formatValue(item.value, item.unit) : '';
      const threshold = item.threshold !== undefined ? formatValue(item.threshold, item.unit) : '';
      return `<tr><td>${escapeHtml(item.name)}</td><td>${escapeHtml(String(item.status))}</td><td>${escapeHtml(value)}</td><td>${escapeHtml(threshold)}</td><td>${escapeHtml(iso(item.since))}</td><td>${escapeHtml(item.summary)}</td></tr>`;
    })
    .join('\n');
  const labels = Object.entries(n.labels)
    .map(([k, v]) => `<code>${escapeHtml(k)}=${escapeHtml(v)}</code>`)
    .join(' ');
  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<h2 style="color: ${KIND_COLOUR[n.kind]}">${escapeHtml(n.title)}</h2>
<p style="white-space: pre-line">${escapeHtml(n.annotations.summary ?? n.text)}</p>
${n.annotations.description && n.annotations.description !== n.annotations.summary ? `<p>${escapeHtml(n.annotations.description)}</p>` : ''}
<p>${n.kind === 'info' ? 'At' : 'Firing since'} <b>${escapeHtml(iso(n.startsAt))}</b>${n.kind === 'resolved' ? `, resolved at <b>${escapeHtml(iso(n.endsAt))}</b>` : ''}</p>
${rows ? `<table border="1" cellpadding="4" cellspacing="0"><tr><th>what</th><th>status</th><th>value</th><th>threshold</th><th>since</th><th>summary</th></tr>\n${rows}\n</table>` : ''}
<p>${labels}</p>
${n.url ? `<p><a href="${escapeHtml(n.url)}">${escapeHtml(n.url)}</a></p>` : ''}
</body></html>`;
  return { subject, text: n.text, html };
}

function mrkdwnEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack incoming-webhook payload: a fallback `text` plus Block Kit blocks. */
export function renderSlack(n: Notification, options: { channel?: string; username?: string } = {}): Record<string, unknown> {
  const emoji = n.kind === 'resolved' ? ':white_check_mark:' : (SEVERITY_EMOJI[n.severity] ?? '');
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: n.title.slice(0, 150), emoji: true } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `${emoji} *${mrkdwnEscape(n.annotations.summary ?? n.text)}*${n.annotations.description && n.annotations.description !== n.annotations.summary ? `\n${mrkdwnEscape(n.annotations.description)}` : ''}`.slice(
          0,
          3000,
        ),
      },
      fields: [
        { type: 'mrkdwn', text: `*Severity*\n${n.severity}` },
        { type: 'mrkdwn', text: n.kind === 'resolved' ? `*Resolved at*\n${iso(n.endsAt)}` : `*${n.kind === 'info' ? 'At' : 'Since'}*\n${iso(n.startsAt)}` },
      ],
    },
  ];
  for (const item of n.items.slice(0, 10)) {
    const value = item.value !== undefined ? formatValue(item.value, item.unit) : '';
    const vs = value && item.threshold !== undefined ? `${value} vs threshold ${formatValue(item.threshold, item.unit)}` : value;
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*${mrkdwnEscape(item.name)}* — \`${mrkdwnEscape(String(item.status))}\`${vs ? ` — ${mrkdwnEscape(vs)}` : ''}\n${mrkdwnEscape(item.summary)}`.slice(0, 3000),
      },
    });
  }
  if (n.items.length > 10) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${n.items.length - 10} more` }] });
  if (n.url) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: n.url.includes('/runs/') ? 'Open run' : 'Open health' }, url: n.url }],
    });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `rule \`${mrkdwnEscape(n.rule)}\` · key \`${mrkdwnEscape(n.dedupKey)}\`` }] });
  const payload: Record<string, unknown> = { text: `${n.title}\n${n.annotations.summary ?? ''}`.trim(), blocks };
  if (options.channel) payload.channel = options.channel;
  if (options.username) payload.username = options.username;
  return payload;
}

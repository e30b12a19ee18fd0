// A task log: the tail first; older pages on demand (by byte offset); live follow over SSE
// while the task runs; download. The DOM holds at most MAX_CHARS of text: older chunks are
// dropped from view (and can be paged back in), so a huge or fast log never freezes the page.
import { enc, get } from '../api.js';
import { fill, h, message } from '../dom.js';

const MAX_CHARS = 2_000_000;

export function logPanel(container, runId, taskId) {
  const base = `/api/v1/ui/runs/${enc(runId)}/tasks/${enc(taskId)}/log`;
  const pre = h('pre', { class: 'log', tabindex: '0', 'aria-label': `Log of ${taskId}` });
  const info = h('span', { class: 'muted', 'aria-live': 'polite' });
  const earlier = h('button', { type: 'button', disabled: true }, 'Load earlier');
  const followBox = h('input', { type: 'checkbox', id: `follow-${taskId}` });
  const tries = h('select', { 'aria-label': 'Try' });
  const download = h('a', { href: '#', download: '' }, 'Download');
  container.append(
    h('div', { class: 'log-tools' }, h('label', {}, 'Try ', tries), earlier, h('label', { for: `follow-${taskId}` }, followBox, ' Follow live'), download, info),
    pre,
  );

  let first = 0;
  let start = 0;
  let end = 0;
  let size = 0;
  let source = null;
  let chars = 0;
  let tryNumber = null;
  let closed = false;

  const trim = () => {
    while (chars > MAX_CHARS && pre.firstChild && pre.firstChild !== pre.lastChild) {
      const node = pre.firstChild;
      chars -= node.textContent.length;
      start = Number(node.dataset?.end ?? start);
      node.remove();
    }
    earlier.disabled = start <= first;
  };
  const status = () => {
    info.textContent = `bytes ${start.toLocaleString()}–${end.toLocaleString()} of ${size.toLocaleString()}${first > 0 ? ` (first ${first.toLocaleString()} bytes dropped by the log cap)` : ''}${source ? ' · following' : ''}`;
  };
  const chunk = (text, s, e) => h('span', { 'data-start': s, 'data-end': e }, text);

  const stopFollow = () => {
    if (source) source.close();
    source = null;
    followBox.checked = false;
    status();
  };
  const follow = () => {
    stopFollow();
    followBox.checked = true;
    source = new EventSource(`${base}/follow?try=${tryNumber}&from=${end}`);
    source.addEventListener('append', (ev) => {
      const d = JSON.parse(ev.data);
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(chunk(d.text, d.start, d.end));
      chars += d.text.length;
      end = d.end;
      size = Math.max(size, d.end);
      trim();
      if (atBottom) pre.scrollTop = pre.scrollHeight;
      status();
    });
    source.addEventListener('gap', (ev) => {
      const d = JSON.parse(ev.data);
      pre.append(chunk(`\n[… ${d.to - d.from} bytes dropped by the log cap …]\n`, d.from, d.to));
    });
    source.addEventListener('end', () => {
      stopFollow();
      info.textContent += ' · task finished';
    });
    source.addEventListener('error', () => {
      // the browser reconnects by itself; a closed stream (the task ended) is final
      if (source && source.readyState === EventSource.CLOSED) stopFollow();
    });
    status();
  };

  const load = async (t) => {
    stopFollow();
    const q = t ? `?try=${t}` : '';
    const page = await get(`${base}${q}`);
    if (closed) return;
    tryNumber = page.try;
    fill(tries, ...(page.tries.length ? page.tries : [page.try]).map((n) => h('option', { value: n, selected: n === page.try }, `try ${n}`)));
    first = page.first ?? 0;
    start = page.start;
    end = page.end;
    size = page.size;
    fill(pre, chunk(page.text, page.start, page.end));
    chars = page.text.length;
    download.setAttribute('href', `${base}?try=${tryNumber}&download=true`);
    earlier.disabled = start <= first;
    pre.scrollTop = pre.scrollHeight;
    status();
    if (page.running) follow();
  };

  earlier.addEventListener('click', async () => {
    try {
      const page = await get(`${base}?try=${tryNumber}&before=${start}`);
      const keep = pre.scrollHeight - pre.scrollTop;
      pre.prepend(chunk(page.text, page.start, page.end));
      chars += page.text.length;
      start = page.start;
      first = page.first ?? first;
      earlier.disabled = start <= first;
      pre.scrollTop = pre.scrollHeight - keep;
      status();
    } catch (err) {
      message(`Loading earlier log failed: ${err.message}`, 'error');
    }
  });
  followBox.addEventListener('change', () => (followBox.checked ? follow() : stopFollow()));
  tries.addEventListener('change', () => void load(Number(tries.value)));
  load().catch((err) => {
    info.textContent = `No log: ${err.message}`;
  });
  return {
    close() {
      closed = true;
      stopFollow();
    },
  };
}

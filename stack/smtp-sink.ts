/**
 * SMTP sink of the local stack: accepts any mail (no auth, no TLS) on STACK_SMTP_PORT and keeps
 * each message as JSON in `.stack/data/smtp/`, served for tests on STACK_SMTP_API_PORT:
 *   GET    /api/messages[?to=addr]   all messages, oldest first (optionally only those to addr)
 *   GET    /api/messages/:id         one message
 *   DELETE /api/messages             remove all
 *   GET    /api/health               {"ok":true,"count":N}
 * Run by the stack manager (`npm run stack -- up smtp`); standalone: `tsx stack/smtp-sink.ts`.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { HOST, ports } from './endpoints';
import { dirs, ensureDir } from './paths';

export interface StoredMessage {
  id: string;
  receivedAt: string;
  /** SMTP envelope */
  envelope: { from: string; to: string[] };
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
  raw: string;
}

// ---------------------------------------------------------------- minimal MIME parsing

interface Part {
  headers: Record<string, string>;
  body: string;
}

function splitHeaders(raw: string): Part {
  const sep = /\r?\n\r?\n/.exec(raw);
  const head = sep ? raw.slice(0, sep.index) : raw;
  const body = sep ? raw.slice(sep.index + sep[0].length) : '';
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const key = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return { headers, body };
}

function param(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const m = new RegExp(`${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(header);
  return m ? (m[1] ?? m[2]) : undefined;
}

function charsetOf(header: string | undefined): BufferEncoding {
  const cs = (param(header, 'charset') ?? 'utf-8').toLowerCase();
  return cs === 'iso-8859-1' || cs === 'latin1' || cs === 'us-ascii' ? 'latin1' : 'utf8';
}

function decodeQuotedPrintable(s: string): Buffer {
  const bytes: number[] = [];
  const text = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

function decodeBody(part: Part): string {
  const enc = (part.headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const charset = charsetOf(part.headers['content-type']);
  if (enc === 'base64') return Buffer.from(part.body.replace(/\s+/g, ''), 'base64').toString(charset);
  if (enc === 'quoted-printable') return decodeQuotedPrintable(part.body).toString(charset);
  return part.body;
}

/** RFC 2047 encoded words (=?utf-8?B?...?= / =?utf-8?Q?...?=) in headers such as Subject. */
export function decodeWords(value: string): string {
  return value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, cs: string, kind: string, data: string) => {
    const enc: BufferEncoding = /utf-?8/i.test(cs) ? 'utf8' : 'latin1';
    if (kind.toUpperCase() === 'B') return Buffer.from(data, 'base64').toString(enc);
    return decodeQuotedPrintable(data.replace(/_/g, ' ')).toString(enc);
  });
}

function collect(part: Part, out: { text: string[]; html: string[] }): void {
  const type = (part.headers['content-type'] ?? 'text/plain').toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = param(part.headers['content-type'], 'boundary');
    if (!boundary) return;
    const chunks = part.body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*\\r?\\n?`));
    for (const chunk of chunks.slice(1)) {
      if (chunk.trim() === '') continue;
      collect(splitHeaders(chunk), out);
    }
    return;
  }
  const disposition = (part.headers['content-disposition'] ?? '').toLowerCase();
  if (disposition.startsWith('attachment')) return;
  if (type.startsWith('text/html')) out.html.push(decodeBody(part));
  else if (type.startsWith('text/plain')) out.text.push(decodeBody(part));
}

function addresses(value: string | undefined): string[] {
  if (!value) return [];
  return decodeWords(value)
    .split(',')
    .map((a) => (/<([^>]+)>/.exec(a)?.[1] ?? a).trim())
    .filter((a) => a.length > 0);
}

export function parseMessage(raw: string, envelope: { from: string; to: string[] }): StoredMessage {
  const top = splitHeaders(raw);
  const out = { text: [] as string[], html: [] as string[] };
  collect(top, out);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(top.headers)) headers[k] = decodeWords(v);
  return {
    id: randomUUID(),
    receivedAt: new Date().toISOString(),
    envelope,
    from: addresses(top.headers.from)[0] ?? envelope.from,
    to: addresses(top.headers.to),
    cc: addresses(top.headers.cc),
    subject: decodeWords(top.headers.subject ?? ''),
    text: out.text.join('\n').replace(/\r\n/g, '\n').trimEnd(),
    html: out.html.join('\n').replace(/\r\n/g, '\n').trimEnd(),
    headers,
    raw,
  };
}

// ---------------------------------------------------------------- storage + servers

const store = () => ensureDir(process.env.STACK_SMTP_DIR ?? path.join(dirs.data, 'smtp'));

function listMessages(): StoredMessage[] {
  const dir = store();
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      try {
        return JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as StoredMessage;
      } catch {
        return undefined;
      }
    })
    .filter((m): m is StoredMessage => m !== undefined)
    .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
}

function saveMessage(msg: StoredMessage): void {
  // Sortable file names: receive time first.
  const file = path.join(store(), `${msg.receivedAt.replace(/[:.]/g, '-')}-${msg.id}.json`);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(msg, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function startSmtpSink(opts: { smtpPort?: number; apiPort?: number; host?: string } = {}): Promise<{ close(): Promise<void> }> {
  const host = opts.host ?? HOST;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    banner: 'pipeline-supervisor stack SMTP sink',
    size: 25 * 1024 * 1024,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', callback);
      stream.on('end', () => {
        try {
          const envelope = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
          };
          const msg = parseMessage(Buffer.concat(chunks).toString('utf8'), envelope);
          saveMessage(msg);
          process.stdout.write(`${msg.receivedAt} received ${msg.id} from ${envelope.from} to ${envelope.to.join(', ')}: ${msg.subject}\n`);
          callback(null, `queued as ${msg.id}`);
        } catch (err) {
          callback(err as Error);
        }
      });
    },
  });

  const api = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/api/health' && req.method === 'GET') return send(res, 200, { ok: true, count: listMessages().length });
    if (url.pathname === '/api/messages' && req.method === 'GET') {
      const to = url.searchParams.get('to')?.toLowerCase();
      const all = listMessages();
      return send(res, 200, to ? all.filter((m) => [...m.to, ...m.cc, ...m.envelope.to].some((a) => a.toLowerCase() === to)) : all);
    }
    if (url.pathname === '/api/messages' && req.method === 'DELETE') {
      const dir = store();
      let n = 0;
      for (const f of fs.readdirSync(dir)) {
        if (!f.endsWith('.json')) continue;
        fs.rmSync(path.join(dir, f), { force: true });
        n++;
      }
      return send(res, 200, { deleted: n });
    }
    const one = /^\/api\/messages\/([0-9a-f-]+)$/.exec(url.pathname);
    if (one && req.method === 'GET') {
      const msg = listMessages().find((m) => m.id === one[1]);
      return msg ? send(res, 200, msg) : send(res, 404, { error: 'not found' });
    }
    send(res, 404, { error: 'not found' });
  });

  const listen = (server: { listen(port: number, host: string, cb: () => void): unknown; once(ev: 'error', cb: (e: Error) => void): unknown }, port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });

  return Promise.all([listen(smtp, opts.smtpPort ?? ports.smtp), listen(api, opts.apiPort ?? ports.smtpApi)]).then(() => {
    let closing: Promise<void> | undefined;
    return {
      close: () => (closing ??= Promise.allSettled([new Promise<void>((r) => smtp.close(() => r())), new Promise<void>((r) => api.close(() => r()))]).then(() => undefined)),
    };
  });
}

if (require.main === module) {
  startSmtpSink().then(
    (sink) => {
      process.stdout.write(`SMTP sink on ${HOST}:${ports.smtp}, API on http://${HOST}:${ports.smtpApi}/api/messages, store ${store()}\n`);
      const stop = () => void sink.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
    (err: Error) => {
      process.stderr.write(`SMTP sink failed to start: ${err.message}\n`);
      process.exit(1);
    },
  );
}

/**
 * Feed parsing for the reference ingestion service. Each format turns the text of a feed into
 * raw entries (still to be normalised) with their line numbers; lines that do not fit the
 * format are reported as malformed lines (counted as invalid), and a feed that as a whole is
 * not in its format throws a `FeedError` naming the feed and why. Pure: no I/O.
 */
import { isIP } from 'node:net';

export const FEED_FORMATS = ['hosts', 'urls', 'csv', 'domains'] as const;
export type FeedFormat = (typeof FEED_FORMATS)[number];

export interface CsvOptions {
  /** Header name of the column holding the URL or domain. */
  column: string;
  /** Header name of a column holding a first-seen date (ISO 8601 or anything Date.parse reads). */
  firstSeenColumn?: string;
  delimiter?: string;
}

export interface FeedEntry {
  value: string;
  /** 1-based line where the entry starts. */
  line: number;
  /** Epoch milliseconds from the feed, when it carries one. */
  firstSeen?: number;
}

export interface MalformedLine {
  line: number;
  text: string;
  reason: string;
}

export interface ParsedFeed {
  entries: FeedEntry[];
  malformed: MalformedLine[];
  /** Comment, blank and header lines, and hosts-file boilerplate (localhost …). */
  skipped: number;
}

export class FeedError extends Error {
  constructor(
    message: string,
    /** Where: the feed's path or URL, with a line number when there is one. */
    readonly where: string,
  ) {
    super(`${where}: ${message}`);
    this.name = 'FeedError';
  }
}

/** Names a hosts file maps to itself; not entries. */
const HOSTS_BOILERPLATE = new Set([
  'localhost',
  'localhost.localdomain',
  'local',
  'broadcasthost',
  'ip6-localhost',
  'ip6-loopback',
  'ip6-localnet',
  'ip6-mcastprefix',
  'ip6-allnodes',
  'ip6-allrouters',
  'ip6-allhosts',
  '0.0.0.0',
]);

function splitLines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
}

function stripComment(line: string): string {
  const hash = line.indexOf('#');
  return (hash >= 0 ? line.slice(0, hash) : line).trim();
}

function checkText(text: string, where: string): void {
  if (text.includes('\u0000')) throw new FeedError('looks binary (contains NUL bytes), not a text feed', where);
  if (text.trim() === '') throw new FeedError('is empty', where);
}

/** Require that a feed with content has at least one line in its format. */
function requireSomeEntries(parsed: ParsedFeed, format: FeedFormat, where: string, expected: string): ParsedFeed {
  if (parsed.entries.length === 0 && parsed.malformed.length > 0) {
    const first = parsed.malformed[0]!;
    throw new FeedError(`no line is in the ${format} format (${expected}); first bad line ${first.line}: ${JSON.stringify(first.text.slice(0, 80))}`, where);
  }
  if (parsed.entries.length === 0) throw new FeedError('has no entries (only comments or blank lines)', where);
  return parsed;
}

/** `0.0.0.0 a.example b.example  # comment` — an IP address then one or more names. */
export function parseHosts(text: string, where = 'feed'): ParsedFeed {
  checkText(text, where);
  const out: ParsedFeed = { entries: [], malformed: [], skipped: 0 };
  splitLines(text).forEach((raw, i) => {
    const line = stripComment(raw);
    if (line === '') return void out.skipped++;
    const [ip, ...names] = line.split(/\s+/);
    if (ip === undefined || isIP(ip) === 0) {
      out.malformed.push({ line: i + 1, text: raw, reason: 'does not start with an IP address' });
      return;
    }
    if (names.length === 0) {
      out.malformed.push({ line: i + 1, text: raw, reason: 'IP address without a host name' });
      return;
    }
    let kept = 0;
    for (const name of names) {
      if (HOSTS_BOILERPLATE.has(name.toLowerCase())) continue;
      out.entries.push({ value: name, line: i + 1 });
      kept++;
    }
    if (kept === 0) out.skipped++;
  });
  return requireSomeEntries(out, 'hosts', where, '"0.0.0.0 domain"');
}

/** One URL per line (phishing feeds); `#` comments. */
export function parseUrls(text: string, where = 'feed'): ParsedFeed {
  checkText(text, where);
  const out: ParsedFeed = { entries: [], malformed: [], skipped: 0 };
  splitLines(text).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return void out.skipped++;
    if (/\s/.test(line)) {
      out.malformed.push({ line: i + 1, text: raw, reason: 'contains whitespace' });
      return;
    }
    out.entries.push({ value: line, line: i + 1 });
  });
  return requireSomeEntries(out, 'urls', where, 'one URL per line');
}

/** One domain per line; `#` and `!` (Adblock-style) comments; a trailing comment is cut. */
export function parseDomains(text: string, where = 'feed'): ParsedFeed {
  checkText(text, where);
  const out: ParsedFeed = { entries: [], malformed: [], skipped: 0 };
  splitLines(text).forEach((raw, i) => {
    if (raw.trim().startsWith('!')) return void out.skipped++;
    const line = stripComment(raw);
    if (line === '') return void out.skipped++;
    if (/\s/.test(line)) {
      out.malformed.push({ line: i + 1, text: raw, reason: 'more than one token on the line' });
      return;
    }
    out.entries.push({ value: line, line: i + 1 });
  });
  return requireSomeEntries(out, 'domains', where, 'one domain per line');
}

/** RFC 4180 records: quoted fields may hold the delimiter, doubled quotes and line breaks. */
export function parseCsvRecords(text: string, delimiter = ',', where = 'feed'): { fields: string[]; line: number }[] {
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  let quotedAt = 0;
  const src = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field.trim() === '') {
      inQuotes = true;
      quotedAt = line;
      field = '';
    } else if (c === delimiter) {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      fields.push(field);
      records.push({ fields, line: recordLine });
      fields = [];
      field = '';
      line++;
      recordLine = line;
    } else field += c;
  }
  if (inQuotes) throw new FeedError(`unterminated quoted field starting on line ${quotedAt}`, where);
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    records.push({ fields, line: recordLine });
  }
  return records;
}

/** CSV with a header row; the entry is the named column. Lines starting with `#` are comments. */
export function parseCsv(text: string, options: CsvOptions, where = 'feed'): ParsedFeed {
  checkText(text, where);
  const out: ParsedFeed = { entries: [], malformed: [], skipped: 0 };
  const records = parseCsvRecords(text, options.delimiter ?? ',', where);
  let header: string[] | undefined;
  let col = -1;
  let seenCol = -1;
  for (const { fields, line } of records) {
    const first = fields[0] ?? '';
    if ((fields.length === 1 && first.trim() === '') || first.trimStart().startsWith('#')) {
      out.skipped++;
      continue;
    }
    if (header === undefined) {
      header = fields.map((f) => f.trim());
      const lower = header.map((h) => h.toLowerCase());
      col = lower.indexOf(options.column.toLowerCase());
      if (col < 0) {
        throw new FeedError(`header has no column "${options.column}" (columns: ${header.map((h) => JSON.stringify(h)).join(', ')})`, `${where}:${line}`);
      }
      if (options.firstSeenColumn !== undefined) {
        seenCol = lower.indexOf(options.firstSeenColumn.toLowerCase());
        if (seenCol < 0) {
          throw new FeedError(`header has no column "${options.firstSeenColumn}" (firstSeenColumn)`, `${where}:${line}`);
        }
      }
      out.skipped++;
      continue;
    }
    if (fields.length !== header.length) {
      out.malformed.push({
        line,
        text: fields.join(options.delimiter ?? ','),
        reason: `has ${fields.length} fields, header has ${header.length}`,
      });
      continue;
    }
    const entry: FeedEntry = { value: (fields[col] ?? '').trim(), line };
    if (seenCol >= 0) {
      const t = Date.parse((fields[seenCol] ?? '').trim());
      if (Number.isFinite(t)) entry.firstSeen = t;
    }
    out.entries.push(entry);
  }
  if (header === undefined) throw new FeedError('has no header row', where);
  return requireSomeEntries(out, 'csv', where, `a "${options.column}" column`);
}

export function parseFeed(format: FeedFormat, text: string, options: { csv?: CsvOptions; where?: string } = {}): ParsedFeed {
  const where = options.where ?? 'feed';
  switch (format) {
    case 'hosts':
      return parseHosts(text, where);
    case 'urls':
      return parseUrls(text, where);
    case 'domains':
      return parseDomains(text, where);
    case 'csv':
      return parseCsv(text, options.csv ?? { column: 'url' }, where);
  }
}

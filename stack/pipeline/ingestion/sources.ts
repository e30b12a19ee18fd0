/**
 * sources.yaml: the feeds the reference ingestion service reads. Validated once with zod;
 * every problem is reported with the file, the source's name and the field, and unknown keys
 * are rejected (a typo must not silently disable an option).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { FEED_FORMATS, type CsvOptions, type FeedFormat } from './feeds';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const sourceSchema = z
  .strictObject({
    format: z.enum(FEED_FORMATS),
    /** A local file, relative to the directory of sources.yaml. */
    path: z.string().min(1).optional(),
    /** An http(s) URL. */
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http:// or https:// URL' })
      .optional(),
    category: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be a lowercase word such as phishing or malware'),
    description: z.string().optional(),
    enabled: z.boolean().default(true),
    /** csv only: the column with the URL or domain. */
    column: z.string().min(1).optional(),
    /** csv only: a column with the date the feed first saw the entry. */
    firstSeenColumn: z.string().min(1).optional(),
    delimiter: z.string().length(1).optional(),
    /** http sources: request timeout. */
    timeoutMs: z.number().int().positive().max(300_000).default(30_000),
  })
  .superRefine((s, ctx) => {
    if ((s.path === undefined) === (s.url === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of "path" or "url"', path: [] });
    }
    if (s.format !== 'csv' && (s.column !== undefined || s.firstSeenColumn !== undefined || s.delimiter !== undefined)) {
      ctx.addIssue({ code: 'custom', message: `"column", "firstSeenColumn" and "delimiter" apply to format csv only (format is ${s.format})`, path: [] });
    }
  });

const fileSchema = z.strictObject({
  /** Kafka topic; the CLI's --topic wins. */
  topic: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/)
    .optional(),
  sources: z.record(z.string().regex(NAME, 'source names use letters, digits, _ . -'), sourceSchema).refine((r) => Object.keys(r).length > 0, {
    message: 'lists no source',
  }),
});

export interface SourceConfig {
  name: string;
  format: FeedFormat;
  /** Absolute path for local feeds, or the URL. */
  location: string;
  kind: 'file' | 'http';
  category: string;
  enabled: boolean;
  csv?: CsvOptions;
  timeoutMs: number;
}

export interface SourcesFile {
  file: string;
  topic?: string;
  sources: SourceConfig[];
}

export class SourcesConfigError extends Error {
  constructor(
    message: string,
    readonly where: string,
    readonly problems: readonly string[] = [],
  ) {
    super(problems.length > 0 ? `${where}: ${message}\n  - ${problems.join('\n  - ')}` : `${where}: ${message}`);
    this.name = 'SourcesConfigError';
  }
}

function describePath(p: readonly PropertyKey[]): string {
  if (p.length === 0) return '(top level)';
  if (p[0] === 'sources' && p.length >= 2) {
    const rest = p.slice(2).map(String).join('.');
    return `source "${String(p[1])}"${rest ? ` field "${rest}"` : ''}`;
  }
  return p.map(String).join('.');
}

/** Validate an already-parsed document. `file` is used in messages and to resolve relative paths. */
export function parseSources(doc: unknown, file: string): SourcesFile {
  const result = fileSchema.safeParse(doc);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      // zod reports unknown keys on the parent object; name them
      const keys = i.code === 'unrecognized_keys' ? ` (${i.keys.map((k) => JSON.stringify(k)).join(', ')})` : '';
      return `${describePath(i.path)}: ${i.message}${keys}`;
    });
    throw new SourcesConfigError('invalid sources file', file, problems);
  }
  const dir = path.dirname(path.resolve(file));
  const sources = Object.entries(result.data.sources).map(([name, s]): SourceConfig => {
    const out: SourceConfig = {
      name,
      format: s.format,
      location: s.url ?? path.resolve(dir, s.path!),
      kind: s.url !== undefined ? 'http' : 'file',
      category: s.category,
      enabled: s.enabled,
      timeoutMs: s.timeoutMs,
    };
    if (s.format === 'csv') {
      out.csv = { column: s.column ?? 'url' };
      if (s.firstSeenColumn !== undefined) out.csv.firstSeenColumn = s.firstSeenColumn;
      if (s.delimiter !== undefined) out.csv.delimiter = s.delimiter;
    }
    return out;
  });
  const parsed: SourcesFile = { file, sources };
  if (result.data.topic !== undefined) parsed.topic = result.data.topic;
  return parsed;
}

export function loadSources(file: string): SourcesFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SourcesConfigError(code === 'ENOENT' ? 'sources file does not exist' : `cannot read sources file (${code ?? String(err)})`, file);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new SourcesConfigError(
      'is not valid YAML',
      file,
      doc.errors.map((e) => e.message.split('\n')[0] ?? e.message),
    );
  }
  return parseSources(doc.toJS(), file);
}

/** Pick one source by name (exact), or all enabled ones. */
export function selectSources(file: SourcesFile, name?: string): SourceConfig[] {
  if (name === undefined) return file.sources.filter((s) => s.enabled);
  const found = file.sources.find((s) => s.name === name);
  if (found === undefined) {
    const names = file.sources.map((s) => s.name).join(', ');
    throw new SourcesConfigError(`unknown source "${name}"; valid names: ${names}`, file.file);
  }
  return [found];
}

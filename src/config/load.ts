import fs from 'node:fs';
import path from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, Scalar, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { SupervisorError } from '../protocol';
import { interpolate, type InterpolationProblem } from './interpolate';
import { LIMITS } from '../shared/limits';
import { validateRawConfig, type SupervisorConfig } from './schema';
import { resolveStoreSettings, storeSchema, type StoreSettings } from './store';

export const DEFAULT_CONFIG_FILE = 'config/supervisor.yaml';

export interface LoadConfigParams {
  /** Path to the YAML file. */
  file: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Variables from the state store; they override the `variables:` defaults of the file. */
  storedVariables?: Readonly<Record<string, string>>;
}

export interface LoadedConfig {
  file: string;
  config: SupervisorConfig;
  /** The effective variables (file defaults overridden by stored ones). */
  variables: Readonly<Record<string, string>>;
}

/** Picks the config file: explicit flag, then SUPERVISOR_CONFIG, then the default. */
export function resolveConfigFile(explicit: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string {
  return path.resolve(explicit ?? env.SUPERVISOR_CONFIG ?? DEFAULT_CONFIG_FILE);
}

/**
 * Reads, interpolates and validates the configuration. Every problem is reported at once, each
 * with `file:line:column`, the YAML path and what was expected. The result is deep-frozen.
 */
export function loadConfig({ file, env = process.env, storedVariables = {} }: LoadConfigParams): LoadedConfig {
  const { doc, lines, problems, neutralized } = parseFile(file);
  const where = (node: Node | null | undefined, yamlPath: readonly PropertyKey[]): string => position(file, lines, node, yamlPath);

  // 1. variables: defaults from the file (which may use ${ENV}), overridden by the store.
  const declared: Record<string, string> = Object.create(null) as Record<string, string>;
  const varsNode = doc.get('variables', true);
  if (isMap(varsNode)) {
    for (const pair of varsNode.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (isScalar(pair.value) && pair.value.value !== null && typeof pair.value.value !== 'object') {
        const found: InterpolationProblem[] = [];
        const v: unknown = pair.value.value;
        declared[key] = interpolate(typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '', { env, variables: {} }, found);
        for (const p of found) problems.push(`${where(pair.value, ['variables', key])}: ${p.message}`);
      }
    }
  }
  // null prototype: `{{ var.constructor }}` or `{{ var.__proto__ }}` find nothing, not Object's
  const merged: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(declared)) merged[k] = v;
  for (const [k, v] of Object.entries(storedVariables)) merged[k] = v;
  const variables = Object.freeze(merged);

  // 2. interpolate every other string scalar in place, keeping positions for errors.
  const unresolved: PropertyKey[][] = [];
  walkScalars(doc.contents, [], (scalar, yamlPath) => {
    if (yamlPath[0] === 'variables' || typeof scalar.value !== 'string') return;
    const found: InterpolationProblem[] = [];
    const value = interpolate(scalar.value, { env, variables }, found);
    for (const p of found) problems.push(`${where(scalar, yamlPath)}: ${p.message}`);
    if (found.length > 0) unresolved.push(yamlPath);
    // an unquoted `port: ${PORT:-8090}` means a number, as if the value had been written there
    scalar.value = value !== scalar.value && scalar.type === 'PLAIN' ? retype(value) : value;
  });

  // 3. validate against the schema.
  const raw: unknown = toPlain(doc, file, lines, problems) ?? {};
  const parsed = validateRawConfig(raw);
  if (!parsed.success) {
    // a value whose reference did not resolve is reported once, not again as a type error
    const consequential = (issue: z.core.$ZodIssue): boolean => [...unresolved, ...neutralized].some((u) => u.every((k, i) => issue.path[i] === k));
    problems.push(
      ...describeIssues(
        parsed.issues.filter((i) => !consequential(i)),
        doc,
        where,
      ),
    );
  }

  if (problems.length > 0 || !parsed.success) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${problems.length} problem(s) in the configuration`, {
      where: file,
      problems: sortByPosition(problems),
    });
  }
  return deepFreeze({ file, config: parsed.data, variables });
}

/**
 * The `store:` section alone, with ${ENV} resolved and validated (src/config/store.ts): the store
 * is opened before variables are known. Throws SUP_ERR_CONFIG_INVALID naming the key.
 */
export function readStoreSettings(file: string, env: Readonly<Record<string, string | undefined>> = process.env): StoreSettings {
  const { doc } = parseFile(file);
  const node = doc.get('store', true);
  const raw: unknown = isMap(node) ? node.toJS(doc) : (node ?? {});
  const problems: InterpolationProblem[] = [];
  const resolveStrings = (v: unknown): unknown =>
    typeof v === 'string'
      ? interpolate(v, { env, variables: {} }, problems)
      : v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveStrings(x)]))
        : v;
  const section = storeSchema.safeParse(resolveStrings(raw));
  if (problems.length > 0 || !section.success) {
    const issues = [
      ...problems.map((p) => `store: ${p.message}`),
      ...(section.success ? [] : section.error.issues.map((i) => `store${i.path.map((k) => `.${String(k)}`).join('')}: ${i.message}`)),
    ];
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${issues.length} problem(s) in the configuration's store section`, { where: file, problems: issues });
  }
  return resolveStoreSettings(section.data, path.dirname(file), env);
}

/** Only the store path, with ${ENV} resolved: needed to open the store before variables are known. */
export function readStorePath(file: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const { doc } = parseFile(file);
  const raw = doc.getIn(['store', 'path']);
  const text = typeof raw === 'string' ? interpolate(raw, { env, variables: {} }, []) : '../var/supervisor.db';
  return path.resolve(path.dirname(file), text);
}

/**
 * Reads the file: a regular file only (a FIFO, /dev/zero or a directory is refused before it is
 * read, so nothing can hang or fill memory), at most LIMITS.configFileBytes, UTF-8.
 */
function readConfigText(file: string): string {
  const fail = (message: string, cause?: unknown): never => {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', message, { where: file, ...(cause !== undefined ? { cause } : {}) });
  };
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SupervisorError('SUP_ERR_CONFIG_NOT_FOUND', `the configuration file does not exist (give another with --config or SUPERVISOR_CONFIG)`, { where: file });
    }
    return fail(`cannot read the configuration file: ${code ?? (cause as Error).message}`, cause);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      const kind = stat.isDirectory()
        ? 'a directory'
        : stat.isFIFO()
          ? 'a FIFO (named pipe)'
          : stat.isCharacterDevice() || stat.isBlockDevice()
            ? 'a device'
            : stat.isSocket()
              ? 'a socket'
              : 'not a regular file';
      return fail(`the configuration must be a regular file; this is ${kind}`);
    }
    const max = LIMITS.configFileBytes;
    if (stat.size > max) return fail(`the configuration file is ${stat.size} bytes; at most ${max} bytes are read`);
    const buffer = Buffer.alloc(max + 1);
    let length = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > max) return fail(`the configuration file grew beyond ${max} bytes while it was read`);
    }
    return buffer.subarray(0, length).toString('utf8');
  } catch (cause) {
    if (cause instanceof SupervisorError) throw cause;
    return fail(`cannot read the configuration file: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, cause);
  } finally {
    fs.closeSync(fd);
  }
}

/** Explicit YAML tags allowed in the config: the plain JSON-like types. `!!binary`, `!!set`, `!!timestamp`, custom tags are errors. */
const ALLOWED_TAGS = new Set([
  'tag:yaml.org,2002:str',
  'tag:yaml.org,2002:int',
  'tag:yaml.org,2002:float',
  'tag:yaml.org,2002:bool',
  'tag:yaml.org,2002:null',
  'tag:yaml.org,2002:map',
  'tag:yaml.org,2002:seq',
]);
/** Keys that would reach or shadow Object.prototype once the YAML is a JS object. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Deeper than this is refused (no sane config nests so far; a recursion bomb would). */
const MAX_DEPTH = 64;
/** Alias expansions allowed when the YAML becomes a JS object (yaml's guard against alias bombs). */
const MAX_ALIAS_COUNT = 100;

function parseFile(file: string): { doc: Document; lines: LineCounter; problems: string[]; neutralized: PropertyKey[][] } {
  const text = readConfigText(file);
  const at = (offset: number): string => {
    const pos = lines.linePos(offset);
    return `${file}:${pos.line}:${pos.col}`;
  };
  const lines = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  } catch (cause) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `the configuration file is not valid YAML: ${(cause as Error).message.split('\n')[0]}`, {
      where: file,
      problems: [`${file}:1:1: ${(cause as Error).message.split('\n')[0]}`],
    });
  }
  const yamlMessage = (message: string): string => (/call stack/i.test(message) ? `nested too deeply (more than ${MAX_DEPTH} levels are refused)` : message.split('\n')[0]!);
  // an unresolved tag is reported below, once, by inspectNodes
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code !== 'TAG_RESOLVE_FAILED')].map((e) => `${at(e.pos[0])}: ${yamlMessage(e.message)}`);
  if (doc.errors.length > 0) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `the configuration file is not valid YAML`, { where: file, problems });
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'the configuration file is empty (start from config/supervisor.yaml, which reproduces the seed pipelines)', {
      where: file,
      problems: [`${file}:1:1: (root): the file has no settings; expected a map of sections such as server:, checks:, pipelines:`],
    });
  }
  if (!isMap(doc.contents)) {
    const node = doc.contents;
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'the configuration file must be a map of sections', {
      where: file,
      problems: [
        `${node.range ? at(node.range[0]) : `${file}:1:1`}: (root): expected a map of sections such as server:, checks:, pipelines:, got ${isSeq(node) ? 'a list' : 'a single value'}`,
      ],
    });
  }
  // structural problems are reported with the rest: the offending node is set aside (null, or
  // its key removed) and the schema's complaints about that path are not repeated
  const neutralized: PropertyKey[][] = [];
  inspectNodes(
    doc,
    doc.contents,
    [],
    0,
    (node, yamlPath, message) => {
      problems.push(`${node?.range ? at(node.range[0]) : file}: ${dotted(yamlPath)}: ${message}`);
      neutralized.push(yamlPath);
    },
    () => undefined,
  );
  return { doc, lines, problems, neutralized };
}

/**
 * Walks every node once before anything is evaluated: tags, aliases (an alias to an anchor
 * that does not exist), reserved keys (`__proto__`, `constructor`, `prototype`), depth.
 */
function inspectNodes(
  doc: Document,
  node: unknown,
  at: PropertyKey[],
  depth: number,
  report: (node: Node | null, at: PropertyKey[], message: string) => void,
  replace: (value: Node) => void,
): void {
  if (!node || typeof node !== 'object') return;
  const n = node as Node;
  if (depth > MAX_DEPTH) {
    report(n, at, `nested deeper than ${MAX_DEPTH} levels`);
    return replace(new Scalar(null));
  }
  const tag = (n as { tag?: string }).tag;
  if (tag !== undefined && !ALLOWED_TAGS.has(tag)) {
    report(n, at, `the YAML tag ${tag.replace('tag:yaml.org,2002:', '!!')} is not accepted in the configuration (write the value as a plain string, number, boolean, list or map)`);
    return replace(new Scalar(null));
  }
  if (isAlias(n)) {
    if (n.resolve(doc) === undefined) {
      report(n, at, `the alias *${n.source} names no anchor defined before it (write &${n.source} on a value above)`);
      replace(new Scalar(null));
    }
    return;
  }
  if (isMap(n)) {
    const drop: unknown[] = [];
    for (const pair of n.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as Node | null;
      let key: PropertyKey;
      if (isScalar(keyNode) && (typeof keyNode.value === 'string' || typeof keyNode.value === 'number')) key = keyNode.value;
      else {
        report(keyNode ?? n, at, 'keys must be plain strings (not lists, maps, aliases or null)');
        drop.push(pair);
        continue;
      }
      if (typeof key === 'string' && RESERVED_KEYS.has(key)) {
        report(keyNode, [...at, key], `"${key}" is a reserved name and cannot be used as a key or a name (check, pipeline, sink, variable…)`);
        drop.push(pair);
        continue;
      }
      if (keyNode.tag !== undefined && !ALLOWED_TAGS.has(keyNode.tag)) {
        report(keyNode, [...at, key], `the YAML tag ${keyNode.tag.replace('tag:yaml.org,2002:', '!!')} is not accepted on a key`);
        drop.push(pair);
        continue;
      }
      inspectNodes(doc, pair.value, [...at, key], depth + 1, report, (v) => (pair.value = v));
    }
    if (drop.length > 0) n.items = n.items.filter((p) => !drop.includes(p));
  } else if (isSeq(n)) {
    n.items.forEach((item, i) => inspectNodes(doc, item, [...at, i], depth + 1, report, (v) => (n.items[i] = v)));
  }
}

/** The document as plain JS; alias bombs and anything else yaml refuses become positioned errors. */
function toPlain(doc: Document, file: string, lines: LineCounter, earlier: readonly string[]): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (cause) {
    const aliases: Node[] = [];
    inspectAliases(doc.contents, (a) => aliases.push(a));
    const range = aliases[0]?.range;
    const pos = range ? lines.linePos(range[0]) : { line: 1, col: 1 };
    const reason = /alias count/i.test((cause as Error).message)
      ? `the aliases expand to more than ${MAX_ALIAS_COUNT} copies (an alias bomb?); write the values out or use fewer aliases`
      : (cause as Error).message.split('\n')[0];
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'the configuration file cannot be read as data', {
      where: file,
      problems: sortByPosition([...earlier, `${file}:${pos.line}:${pos.col}: ${reason}`]),
    });
  }
}

function inspectAliases(node: unknown, visit: (alias: Node) => void): void {
  if (!node || typeof node !== 'object') return;
  if (isAlias(node)) return visit(node as Node);
  if (isMap(node)) for (const pair of node.items) inspectAliases((pair as { value: unknown }).value, visit);
  else if (isSeq(node)) for (const item of node.items) inspectAliases(item, visit);
}

function walkScalars(node: Node | null | undefined, at: PropertyKey[], visit: (scalar: import('yaml').Scalar, at: PropertyKey[]) => void): void {
  if (!node) return;
  if (isScalar(node)) return visit(node, at);
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? (pair.key.value as PropertyKey) : String(pair.key);
      walkScalars(pair.value as Node, [...at, key], visit);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walkScalars(item as Node, [...at, i], visit));
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[], doc: Document, where: (node: Node | null | undefined, p: readonly PropertyKey[]) => string): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const keyPath = [...issue.path, key];
        out.push(`${where(findKeyNode(doc, keyPath), keyPath)}: unknown key "${key}" (check the spelling; allowed keys are listed in the README's configuration reference)`);
      }
      continue;
    }
    if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors) && issue.errors.length > 0) {
      // report the branch that got furthest, not the whole union
      const branches = issue.errors as z.core.$ZodIssue[][];
      const best = branches.reduce((a, b) => (deepest(b) > deepest(a) ? b : a));
      out.push(
        ...describeIssues(
          best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })),
          doc,
          where,
        ),
      );
      continue;
    }
    out.push(`${where(nearestNode(doc, issue.path), issue.path)}: ${issue.message}`);
  }
  return [...new Set(out)];
}

function deepest(issues: z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function nearestNode(doc: Document, p: readonly PropertyKey[]): Node | null {
  for (let n = p.length; n >= 0; n--) {
    const node = doc.getIn(p.slice(0, n) as unknown[], true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) return node;
  }
  return null;
}

function findKeyNode(doc: Document, p: readonly PropertyKey[]): Node | null {
  const parent = p.length > 1 ? doc.getIn(p.slice(0, -1) as unknown[], true) : doc.contents;
  if (isMap(parent)) {
    const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === p[p.length - 1]);
    if (pair && isScalar(pair.key)) return pair.key;
  }
  return nearestNode(doc, p);
}

function dotted(yamlPath: readonly PropertyKey[]): string {
  if (yamlPath.length > 12) return `${dotted(yamlPath.slice(0, 6))}…(${yamlPath.length - 8} more)…${dotted(yamlPath.slice(-2)).replace(/^(?=[^[])/, '.')}`;
  return yamlPath.length === 0
    ? '(root)'
    : yamlPath
        .map((k) => (typeof k === 'number' ? `[${k}]` : String(k)))
        .join('.')
        .replace(/\.\[/g, '[');
}

function position(file: string, lines: LineCounter, node: Node | null | undefined, yamlPath: readonly PropertyKey[]): string {
  if (!node?.range) return `${file}: ${dotted(yamlPath)}`;
  const pos = lines.linePos(node.range[0]);
  return `${file}:${pos.line}:${pos.col}: ${dotted(yamlPath)}`;
}

function retype(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

/** Orders `file:line:col: …` messages as they appear in the file. */
function sortByPosition(problems: readonly string[]): string[] {
  const key = (p: string): [number, number] => {
    const m = /:(\d+):(\d+): /.exec(p);
    return m ? [Number(m[1]), Number(m[2])] : [Number.MAX_SAFE_INTEGER, 0];
  };
  return [...problems].sort((a, b) => {
    const [la, ca] = key(a);
    const [lb, cb] = key(b);
    return la - lb || ca - cb;
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

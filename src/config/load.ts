import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { SupervisorError } from '../protocol';
import { interpolate, type InterpolationProblem } from './interpolate';
import { configSchema, type SupervisorConfig } from './schema';

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
  const { doc, lines, problems } = parseFile(file);
  const where = (node: Node | null | undefined, yamlPath: readonly PropertyKey[]): string => position(file, lines, node, yamlPath);

  // 1. variables: defaults from the file (which may use ${ENV}), overridden by the store.
  const declared: Record<string, string> = {};
  const varsNode = doc.get('variables', true);
  if (isMap(varsNode)) {
    for (const pair of varsNode.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (isScalar(pair.value) && pair.value.value !== null && typeof pair.value.value !== 'object') {
        const found: InterpolationProblem[] = [];
        declared[key] = interpolate(String(pair.value.value), { env, variables: {} }, found);
        for (const p of found) problems.push(`${where(pair.value as Node, ['variables', key])}: ${p.message}`);
      }
    }
  }
  const variables = Object.freeze({ ...declared, ...storedVariables });

  // 2. interpolate every other string scalar in place, keeping positions for errors.
  const unresolved: PropertyKey[][] = [];
  walkScalars(doc.contents as Node | null, [], (scalar, yamlPath) => {
    if (yamlPath[0] === 'variables' || typeof scalar.value !== 'string') return;
    const found: InterpolationProblem[] = [];
    const value = interpolate(scalar.value, { env, variables }, found);
    for (const p of found) problems.push(`${where(scalar, yamlPath)}: ${p.message}`);
    if (found.length > 0) unresolved.push(yamlPath);
    // an unquoted `port: ${PORT:-8090}` means a number, as if the value had been written there
    scalar.value = value !== scalar.value && scalar.type === 'PLAIN' ? retype(value) : value;
  });

  // 3. validate against the schema.
  const raw: unknown = doc.toJS() ?? {};
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    // a value whose reference did not resolve is reported once, not again as a type error
    const consequential = (issue: z.core.$ZodIssue): boolean => unresolved.some((u) => u.every((k, i) => issue.path[i] === k));
    problems.push(...describeIssues(parsed.error.issues.filter((i) => !consequential(i)), doc, where));
  }

  if (problems.length > 0 || !parsed.success) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${problems.length} problem(s) in the configuration`, {
      where: file,
      problems: sortByPosition(problems),
    });
  }
  return deepFreeze({ file, config: parsed.data, variables });
}

/** Only the store path, with ${ENV} resolved: needed to open the store before variables are known. */
export function readStorePath(file: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const { doc } = parseFile(file);
  const raw = doc.getIn(['store', 'path']);
  const text = typeof raw === 'string' ? interpolate(raw, { env, variables: {} }, []) : '../var/supervisor.db';
  return path.resolve(path.dirname(file), text);
}

function parseFile(file: string): { doc: Document; lines: LineCounter; problems: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SupervisorError('SUP_ERR_CONFIG_NOT_FOUND', `the configuration file does not exist (give another with --config or SUPERVISOR_CONFIG)`, { where: file });
    }
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `cannot read the configuration file: ${(cause as Error).message}`, { where: file, cause });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems = [...doc.errors, ...doc.warnings].map((e) => {
    const pos = lines.linePos(e.pos[0]);
    return `${file}:${pos.line}:${pos.col}: ${e.message.split('\n')[0]}`;
  });
  if (doc.errors.length > 0) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `the configuration file is not valid YAML`, { where: file, problems });
  }
  return { doc, lines, problems };
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
      out.push(...describeIssues(best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })), doc, where));
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

function position(file: string, lines: LineCounter, node: Node | null | undefined, yamlPath: readonly PropertyKey[]): string {
  const dotted = yamlPath.length === 0 ? '(root)' : yamlPath.map((k) => (typeof k === 'number' ? `[${k}]` : String(k))).join('.').replace(/\.\[/g, '[');
  if (!node?.range) return `${file}: ${dotted}`;
  const pos = lines.linePos(node.range[0]);
  return `${file}:${pos.line}:${pos.col}: ${dotted}`;
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

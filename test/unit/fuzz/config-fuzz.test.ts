/**
 * Config fuzz harness (issue 13, "Done when"): ≥ 500 deterministic mutations of the shipped
 * config/supervisor.yaml — wrong types, bad durations, bad cron and time zones, deleted and
 * duplicated keys, YAML tags and aliases, unicode, huge numbers, `__proto__` keys, empty
 * values, truncations — each run through `config validate` and `start --dry-run` in-process
 * (`main()`), and a sample through the real `bin/supervisor.js` (dist/, `npm run build`).
 *
 * Every case must: exit 0 or 2; print no stack trace and no SUP_ERR_INTERNAL; give every config
 * problem a position (file:line:col) or the key it is about; agree between validate and dry run;
 * finish within its time limit.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { main } from '../../../src/cli/main';

const ROOT = path.join(__dirname, '../../..');
const BASE = fs.readFileSync(path.join(ROOT, 'config/supervisor.yaml'), 'utf8');
const SEED = 0x5eed_13;
const CASES = 520;
/** Every SAMPLE_EVERY-th case also goes through the real CLI (validate and start --dry-run). */
const SAMPLE_EVERY = 40;
const CASE_TIMEOUT_MS = 10_000;
const STACK_TRACE = /\n\s+at .+:\d+:\d+\)?|^\s+at .+\(.+:\d+:\d+\)$/m;

/** mulberry32: a small deterministic PRNG, so a failing case is reproducible by its index. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const BAD_VALUES: readonly string[] = [
  '""',
  "''",
  '~',
  'null',
  '[]',
  '{}',
  '0',
  '-1',
  '1e20',
  '-1e20',
  '99999999999999999999',
  '99999999999999999999d',
  '.inf',
  '-.inf',
  '.nan',
  'true',
  'false',
  'yes',
  '"0"',
  '"30d"',
  '"366d"',
  '"367d"',
  '1h30',
  '"1 hour"',
  '"-5s"',
  '"5 minutes"',
  '"1e20"',
  '0x10',
  '0o17',
  '"abc"',
  '"\\u0000"',
  '"\\u001b[2J"',
  '"\u{1F600}"',
  '"é"',
  '"ſ"',
  '"\u202e"',
  '[1, 2]',
  '{a: 1}',
  '"61 * * * *"',
  '"* * * *"',
  '"* * * * * * *"',
  '"0 0 31 2 *"',
  '"@every 5m"',
  'Mars/Olympus',
  '"UTC+2"',
  '"Europe/Berlin"',
  '!!binary aGVsbG8=',
  '!!set {a, b}',
  '!!timestamp 2001-12-14',
  '!evil x',
  '!!str 5',
  '!!int "7"',
  '!!float 1',
  '*nope',
  '"{{ var.__proto__ }}"',
  '"{{ var.constructor }}"',
  '"{{ var.nope }}"',
  '"${NOPE}"',
  '"${__proto__}"',
  '"${PORT:-}"',
  `"${'x'.repeat(5000)}"`,
  '"a:1,,b:2"',
  '"host:port"',
  '"http://"',
  '"not a url"',
  '-0',
  '0.5',
  '65536',
  '8090.5',
];

const CRONS = [
  '61 * * * *',
  '* 24 * * *',
  '* * 32 * *',
  '* * * 13 *',
  '* * * * 8',
  '*/0 * * * *',
  '5-1 * * * *',
  '* * * *',
  '* * * * * * *',
  '0 0 31 2 *',
  'a b c d e',
  '',
  ' ',
  '0 0 29 2 *',
  '@yearly',
  '0 */2 * * MON-FRI',
  '1/0 * * * *',
];
const ZONES = ['Mars/Olympus', 'Europe/Nowhere', 'UTC+2', '', 'utc', 'Etc/GMT+2', 'Europe/Berlin', 'America/New York', '+02:00', 'Asia/Kolkata'];
const DURATIONS = [
  '0',
  '"0"',
  '30d',
  '1e20',
  '99999999999999999999d',
  '-1s',
  'soon',
  '1h30m',
  '500ms',
  '367d',
  '24d',
  '25d',
  '2147483647ms',
  '2147483648ms',
  '0.0001ms',
  '""',
  '1w',
  '5',
];
const RESERVED = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

interface Located {
  node: Node;
  path: PropertyKey[];
  parent: Node | null;
  pair: Pair | null;
}

function collect(node: unknown, at: PropertyKey[], parent: Node | null, pair: Pair | null, out: Located[]): void {
  if (!node || typeof node !== 'object') return;
  out.push({ node: node as Node, path: at, parent, pair });
  if (isMap(node)) for (const p of node.items) collect(p.value, [...at, isScalar(p.key) ? (p.key.value as PropertyKey) : '?'], node, p, out);
  else if (isSeq(node)) node.items.forEach((item, i) => collect(item, [...at, i], node, null, out));
}

/** Replaces the node at a random location by a YAML snippet (parsed as its own document). */
function setRaw(doc: Document, loc: Located, yamlValue: string): void {
  const value = parseDocument(`v: ${yamlValue}\n`).get('v', true) as Node | undefined;
  if (loc.pair) loc.pair.value = value ?? null;
  else if (loc.parent && isSeq(loc.parent)) loc.parent.items[loc.path[loc.path.length - 1] as number] = value ?? null;
}

type Mutation = (r: Rand, text: string) => string;

const structural =
  (fn: (r: Rand, doc: Document, nodes: Located[]) => void): Mutation =>
  (r, text) => {
    const doc = parseDocument(text);
    const nodes: Located[] = [];
    collect(doc.contents, [], null, null, nodes);
    fn(r, doc, nodes.slice(1));
    return String(doc);
  };

const whereKey = (nodes: Located[], key: string): Located[] => nodes.filter((n) => n.path[n.path.length - 1] === key);

const MUTATIONS: readonly [string, Mutation][] = [
  ['a bad value anywhere', structural((r, doc, nodes) => setRaw(doc, pick(r, nodes), pick(r, BAD_VALUES)))],
  [
    'two bad values',
    structural((r, doc, nodes) => {
      setRaw(doc, pick(r, nodes), pick(r, BAD_VALUES));
      setRaw(doc, pick(r, nodes), pick(r, BAD_VALUES));
    }),
  ],
  [
    'a bad duration',
    structural((r, doc, nodes) => {
      const targets = nodes.filter((n) => /interval|timeout|_delay|max_age|for$|cooldown|window|wait|repeat/.test(String(n.path[n.path.length - 1])));
      setRaw(doc, pick(r, targets.length ? targets : nodes), pick(r, DURATIONS));
    }),
  ],
  ['a bad cron', structural((r, doc, nodes) => setRaw(doc, pick(r, whereKey(nodes, 'schedule')), JSON.stringify(pick(r, CRONS))))],
  ['a bad time zone', structural((r, doc, nodes) => setRaw(doc, pick(r, whereKey(nodes, 'timezone')), JSON.stringify(pick(r, ZONES))))],
  [
    'a deleted key',
    structural((r, _doc, nodes) => {
      const loc = pick(
        r,
        nodes.filter((n) => n.pair && n.parent && isMap(n.parent)),
      );
      const parent = loc.parent as unknown as { items: Pair[] };
      parent.items.splice(parent.items.indexOf(loc.pair!), 1);
    }),
  ],
  [
    'an unknown key',
    structural((r, doc, nodes) => {
      const m = pick(
        r,
        nodes.filter((n) => isMap(n.node)),
      ).node as unknown as YAMLMap;
      m.add(doc.createPair(pick(r, ['colour', 'intervall', 'Port', 'ßtrange', '\u{1F600}', '', ' ', 'kind ', ...RESERVED]), 'x'));
    }),
  ],
  [
    'a reserved name',
    (r, text) => text.replace(pick(r, ['  kafka:\n    kind', '  monitoring:\n', '  kafka_servers:', '  log:\n', 'server:\n']), (m) => m.replace(/[a-z_]+(?=:)/, pick(r, RESERVED))),
  ],
  [
    'a duplicated line',
    (r, text) => {
      const lines = text.split('\n');
      const i = Math.floor(r() * lines.length);
      lines.splice(i, 0, lines[i]!);
      return lines.join('\n');
    },
  ],
  [
    'a deleted line',
    (r, text) => {
      const lines = text.split('\n');
      lines.splice(Math.floor(r() * lines.length), 1 + Math.floor(r() * 3));
      return lines.join('\n');
    },
  ],
  ['a truncated file', (r, text) => text.slice(0, Math.floor(r() * text.length))],
  [
    'a bad indent',
    (r, text) => {
      const lines = text.split('\n');
      const i = Math.floor(r() * lines.length);
      lines[i] = pick(r, [' ', '   ', '\t', '']) + lines[i];
      return lines.join('\n');
    },
  ],
  [
    'random bytes in a line',
    (r, text) => {
      const at = Math.floor(r() * text.length);
      return (
        text.slice(0, at) +
        pick(r, [
          '\u0000',
          '\ufeff',
          '\u202e',
          '\uffff',
          '\ud800',
          '"',
          "'",
          '{',
          '[',
          '&a ',
          '*a ',
          '!!binary ',
          '? ',
          '- ',
          ': ',
          '|',
          '>',
          '%YAML 1.1\n',
          '---\n',
          '...\n',
          '#',
          '\\',
          '\r',
        ]) +
        text.slice(at)
      );
    },
  ],
  [
    'an alias',
    (r, text) => {
      const lines = text.split('\n');
      const values = lines.map((l, i) => [l, i] as const).filter(([l]) => /:\s+\S/.test(l) && !l.trim().startsWith('#') && !l.trim().startsWith('-'));
      const [line, i] = pick(r, values);
      const kind = r();
      if (kind < 0.4) lines[i] = line.replace(/:\s+(.*)$/, ': *undefined_anchor');
      else if (kind < 0.8) {
        lines[i] = line.replace(/:\s+(.*)$/, ': &anc $1');
        const [l2, j] = pick(r, values);
        lines[j] = l2.replace(/:\s+(.*)$/, ': *anc');
      } else
        lines.unshift(
          'bomb0: &b0 [x,x,x,x,x,x,x,x,x,x]',
          'bomb1: &b1 [*b0,*b0,*b0,*b0,*b0,*b0,*b0,*b0,*b0,*b0]',
          'bomb2: &b2 [*b1,*b1,*b1,*b1,*b1,*b1,*b1,*b1,*b1,*b1]',
          'bomb3: [*b2,*b2,*b2,*b2,*b2,*b2,*b2,*b2,*b2,*b2]',
        );
      return lines.join('\n');
    },
  ],
  [
    'a huge number',
    structural((r, doc, nodes) =>
      setRaw(
        doc,
        pick(
          r,
          nodes.filter((n) => isScalar(n.node) && typeof (n.node as { value: unknown }).value === 'number'),
        ),
        pick(r, ['1e308', '1e309', '-1e308', '9007199254740993', '123456789012345678901234567890', '0.000000000001', '-0']),
      ),
    ),
  ],
  [
    'a wrong type for a section',
    structural((r, doc, nodes) =>
      setRaw(
        doc,
        pick(
          r,
          nodes.filter((n) => n.path.length <= 2),
        ),
        pick(r, ['5', '"text"', '[]', '[a, b]', 'null', 'true']),
      ),
    ),
  ],
  [
    'a deep nesting',
    (r, text) => {
      const depth = 30 + Math.floor(r() * 2000);
      return text.replace('variables:\n', `variables:\n  deep: ${'['.repeat(depth)}${']'.repeat(depth)}\n`);
    },
  ],
  ['a long line', (r, text) => text.replace('  port:', `  colour_${'x'.repeat(1000 + Math.floor(r() * 100_000))}: 1\n  port:`)],
  [
    'unicode values',
    structural((r, doc, nodes) =>
      setRaw(
        doc,
        pick(
          r,
          nodes.filter((n) => isScalar(n.node)),
        ),
        JSON.stringify(pick(r, ['κάφκα:9092', '\u{1F600}', 'ｋａｆｋａ:９０９２', 'a\u0000b', 'line\nbreak', '\u001b]8;;evil\u0007', 'İ', '\u00a0'])),
      ),
    ),
  ],
  ['an empty document', (r) => pick(r, ['', '\n', '# only a comment\n', '---\n', '~\n', 'null\n'])],
  ['a non-map root', (r) => pick(r, ['- a\n- b\n', 'just text\n', '42\n', '[server]\n', '"quoted"\n'])],
];

function mutate(index: number): { name: string; text: string } {
  const r = prng(SEED + index * 7919);
  const [name, fn] = MUTATIONS[index % MUTATIONS.length]!;
  let text: string;
  try {
    text = fn(r, BASE);
  } catch {
    // a mutation that does not apply to the shipped file: a plain bad value instead
    text = BASE.replace('interval: 15s', `interval: ${pick(r, DURATIONS)}`);
  }
  return { name, text };
}

async function inProcess(argv: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  let out = '';
  const write = (s: string): void => {
    out += s.endsWith('\n') ? s : s + '\n';
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${argv.join(' ')} did not finish within ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
  });
  try {
    const code = await Promise.race([main(argv, { env, stdout: write, stderr: write }), timeout]);
    return { code, out };
  } finally {
    clearTimeout(timer);
  }
}

/** What a failed case prints must say where: every problem line positioned or naming its key. */
function unpositioned(out: string, file: string): string[] {
  const lines = out.split('\n').filter((l) => l.trim().length > 0);
  const problems = lines.filter((l) => l.startsWith('  - '));
  const bad: string[] = [];
  const base = path.basename(file);
  for (const p of problems) {
    const positioned = new RegExp(`${base.replace('.', '\\.')}:\\d+:\\d+: `).test(p);
    const namesKey = new RegExp(`${base.replace('.', '\\.')}: [^\\s:]+: `).test(p);
    if (!positioned && !namesKey) bad.push(p);
  }
  if (problems.length === 0 && !lines.some((l) => l.includes(`(at ${file})`))) bad.push(lines[0] ?? '(no output)');
  return bad;
}

describe('config fuzz harness', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-fuzz-'));
  const env = { SUPERVISOR_STORE: path.join(dir, 'state.db'), HOME: dir };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases = Array.from({ length: CASES }, (_, i) => ({ index: i, ...mutate(i) }));
  const outcomes = new Map<number, number>();
  const debugOut = new Map<number, string>();

  it(`${CASES} mutations: exit 0 or 2, no stack trace, no SUP_ERR_INTERNAL, every problem positioned, validate and dry run agree`, async () => {
    const failures: string[] = [];
    for (const c of cases) {
      const file = path.join(dir, `case-${c.index}.yaml`);
      fs.writeFileSync(file, c.text);
      const validate = await inProcess(['--config', file, 'config', 'validate'], env);
      const dry = await inProcess(['--config', file, 'start', '--dry-run'], env);
      outcomes.set(c.index, validate.code);
      debugOut.set(c.index, validate.out);
      const label = `case ${c.index} (${c.name})`;
      for (const [what, r] of [
        ['config validate', validate],
        ['start --dry-run', dry],
      ] as const) {
        if (r.code !== 0 && r.code !== 2) failures.push(`${label}: ${what} exited ${r.code}: ${r.out.slice(0, 300)}`);
        if (STACK_TRACE.test(r.out)) failures.push(`${label}: ${what} printed a stack trace: ${r.out.slice(0, 500)}`);
        if (r.out.includes('SUP_ERR_INTERNAL')) failures.push(`${label}: ${what} answered SUP_ERR_INTERNAL: ${r.out.slice(0, 300)}`);
        if (r.code === 2) for (const p of unpositioned(r.out, file)) failures.push(`${label}: ${what}: a problem without position or key: ${p.slice(0, 300)}`);
      }
      if (validate.code !== dry.code) failures.push(`${label}: config validate exited ${validate.code} but start --dry-run ${dry.code}`);
    }
    // FUZZ_DEBUG=1 prints each case's outcome (to see what the mutations produce)
    if (process.env.FUZZ_DEBUG) {
      for (const c of cases)
        process.stdout.write(`${c.index} ${c.name} -> ${outcomes.get(c.index)} ${(debugOut.get(c.index) ?? '').split('\n').slice(0, 3).join(' | ').slice(0, 220)}\n`);
    }
    expect(failures).toEqual([]);
    // the harness is not vacuous: most mutations are rejected, some are harmless
    const rejected = [...outcomes.values()].filter((c) => c === 2).length;
    expect(rejected).toBeGreaterThan(CASES * 0.6);
    expect(rejected).toBeLessThan(CASES);
  }, 600_000);

  it('a sample through the real bin/supervisor.js: same exit code, no stack trace, no hang', () => {
    const sample = cases.filter((c) => c.index % SAMPLE_EVERY === 0);
    const failures: string[] = [];
    for (const c of sample) {
      const file = path.join(dir, `real-${c.index}.yaml`);
      fs.writeFileSync(file, c.text);
      for (const argv of [
        ['config', 'validate'],
        ['start', '--dry-run'],
      ]) {
        const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/supervisor.js'), '--config', file, ...argv], {
          env: { PATH: process.env.PATH ?? '', ...env },
          encoding: 'utf8',
          timeout: 30_000,
        });
        const out = `${r.stdout}${r.stderr}`;
        const label = `case ${c.index} (${c.name}) ${argv.join(' ')}`;
        if (r.error) failures.push(`${label}: ${r.error.message} (a hang?)`);
        if (r.status !== 0 && r.status !== 2) failures.push(`${label}: exit ${r.status}: ${out.slice(0, 300)}`);
        if (STACK_TRACE.test(out) || out.includes('SUP_ERR_INTERNAL') || /std::bad_alloc|FATAL ERROR/.test(out)) failures.push(`${label}: ${out.slice(0, 500)}`);
        if (outcomes.has(c.index) && r.status !== outcomes.get(c.index)) failures.push(`${label}: exit ${r.status}, in-process ${outcomes.get(c.index)}`);
      }
    }
    expect(sample.length).toBeGreaterThanOrEqual(10);
    expect(failures).toEqual([]);
  }, 600_000);
});

/**
 * `dags show` renderers, checked against the structure of the seed's monitoring pipeline in
 * config/supervisor.yaml (groups infrastructure_health and data_quality, collect_metrics
 * all_done, alert_on_failure one_failed): every edge of the spec is drawn, every group holds
 * exactly its tasks, and only the non-all_success tasks are marked. The expectations are
 * computed from the PipelineSpec, not copied from a rendering.
 */
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { buildPipeline, createPipelineCatalog, type PipelineSpec } from '../../../src/engine/dag';
import { graphEdges, graphJson, renderDot, renderMermaid, renderText, upstreamLabels } from '../../../src/engine/dag-render';
import { pipelineSchema } from '../../../src/config/pipelines';

const loaded = loadConfig({ file: path.resolve(__dirname, '../../../config/supervisor.yaml'), env: {} });
const monitoring = createPipelineCatalog(loaded.config).get('monitoring_dag');

describe('the monitoring pipeline as the renderers see it', () => {
  it('has the seed structure the assertions below rely on', () => {
    expect(monitoring.groups).toEqual({
      infrastructure_health: ['check_kafka', 'check_spark'],
      data_quality: ['check_bronze_freshness', 'check_silver_freshness', 'check_gold_freshness'],
    });
    const rules = Object.fromEntries(monitoring.tasks.map((t) => [t.id, t.triggerRule]));
    expect(rules).toMatchObject({ collect_metrics: 'all_done', alert_on_failure: 'one_failed', check_kafka: 'all_success' });
    // both final tasks depend on both groups: 5 upstream each
    expect(graphEdges(monitoring)).toHaveLength(10);
  });
});

describe('json', () => {
  it('lists nodes in topological order, every edge once, groups with their tasks', () => {
    const g = graphJson(monitoring);
    expect(g.pipeline).toBe('monitoring');
    const order = g.nodes.map((n) => n.id);
    for (const e of g.edges) expect(order.indexOf(e.from)).toBeLessThan(order.indexOf(e.to));
    const expected = monitoring.tasks.flatMap((t) => t.upstream.map((u) => `${u}->${t.id}`)).sort();
    expect(g.edges.map((e) => `${e.from}->${e.to}`).sort()).toEqual(expected);
    expect(new Set(expected).size).toBe(expected.length);
    expect(g.groups).toEqual(Object.entries(monitoring.groups).map(([id, tasks]) => ({ id, tasks })));
    expect(g.nodes.find((n) => n.id === 'alert_on_failure')).toMatchObject({ operator: 'alert', group: null, trigger_rule: 'one_failed' });
  });
});

describe('mermaid', () => {
  const text = renderMermaid(monitoring);
  const lines = text.split('\n');
  /** node id → label, from `id["label"]` lines */
  const nodes = new Map<string, string>();
  for (const l of lines) {
    const m = /^\s+(t_\w+)\["([^"]*)"\]$/.exec(l);
    if (m) nodes.set(m[1]!, m[2]!);
  }
  const idOf = (task: string) => [...nodes].find(([, label]) => label.split('<br/>')[0] === task)?.[0];

  it('is a flowchart with one node per task, labelled with the task id and its operator', () => {
    expect(lines[1]).toBe('flowchart LR');
    expect(nodes.size).toBe(monitoring.tasks.length);
    for (const t of monitoring.tasks) {
      const id = idOf(t.id);
      expect(id).toBeDefined();
      expect(nodes.get(id!)).toContain(t.operator);
    }
  });

  it('draws every edge, dashed exactly into the tasks whose trigger rule is not all_success', () => {
    const edges = lines.map((l) => /^\s+(t_\w+) (-->|-\.->) (t_\w+)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
    expect(edges).toHaveLength(graphEdges(monitoring).length);
    for (const t of monitoring.tasks) {
      for (const u of t.upstream) {
        const e = edges.find((m) => m[1] === idOf(u) && m[3] === idOf(t.id));
        expect(e).toBeDefined();
        expect(e![2]).toBe(t.triggerRule === 'all_success' ? '-->' : '-.->');
      }
    }
    expect(nodes.get(idOf('alert_on_failure')!)).toContain('one_failed');
    expect(nodes.get(idOf('collect_metrics')!)).toContain('all_done');
    expect(nodes.get(idOf('check_kafka')!)).not.toContain('all_success');
  });

  it('puts each group in a subgraph holding exactly its tasks', () => {
    for (const [group, members] of Object.entries(monitoring.groups)) {
      const start = lines.findIndex((l) => new RegExp(`^\\s+subgraph \\w+\\["${group}"\\]$`).test(l));
      expect(start).toBeGreaterThan(0);
      const end = lines.findIndex((l, i) => i > start && l.trim() === 'end');
      const inside = lines.slice(start + 1, end).map((l) => /^\s+(t_\w+)\[/.exec(l)?.[1]);
      expect(inside).toEqual(members.map(idOf));
    }
  });
});

describe('dot', () => {
  const text = renderDot(monitoring);
  const lines = text.split('\n');

  it('is a digraph with every edge, dashed into non-all_success tasks', () => {
    expect(lines[0]).toBe('digraph "monitoring" {');
    expect(lines.at(-1)).toBe('}');
    const edges = lines.map((l) => /^\s+"([^"]+)" -> "([^"]+)"( \[style=dashed\])?;$/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
    expect(edges.map((m) => `${m[1]}->${m[2]}`).sort()).toEqual(
      graphEdges(monitoring)
        .map((e) => `${e.from}->${e.to}`)
        .sort(),
    );
    for (const m of edges) {
      const rule = monitoring.tasks.find((t) => t.id === m[2])!.triggerRule;
      expect(m[3] !== undefined).toBe(rule !== 'all_success');
    }
  });

  it('puts each group in a cluster holding exactly its tasks', () => {
    for (const [group, members] of Object.entries(monitoring.groups)) {
      const label = lines.findIndex((l) => l.trim() === `label="${group}";`);
      expect(lines[label - 1]).toMatch(/^\s+subgraph cluster_\d+ \{$/);
      const end = lines.findIndex((l, i) => i > label && l.trim() === '}');
      expect(lines.slice(label + 1, end).map((l) => /^\s+"([^"]+)" \[/.exec(l)?.[1])).toEqual(members);
    }
  });

  it('escapes quotes and backslashes in names', () => {
    const spec = buildPipeline('odd', pipelineSchema.parse({ tasks: [{ id: 'a', operator: 'command', group: 'say "hi" \\ there' }] }));
    const dot = renderDot(spec);
    expect(dot).toContain('label="say \\"hi\\" \\\\ there";');
    const mermaid = renderMermaid(spec);
    expect(mermaid).toContain('["say #quot;hi#quot; \\ there"]');
  });
});

describe('text', () => {
  const text = renderText(monitoring);
  const lines = text.split('\n');

  it('lists every task once, in topological order, with its operator', () => {
    const listed = monitoring.tasks.map((t) => lines.findIndex((l) => new RegExp(`^\\s+${t.id}\\s`).test(l)));
    expect(listed.every((i) => i > 0)).toBe(true);
    expect([...listed].sort((a, b) => a - b)).toEqual(listed);
    for (const t of monitoring.tasks) expect(lines[listed[monitoring.tasks.indexOf(t)]!]).toMatch(new RegExp(`^\\s+${t.id}\\s+${t.operator}\\s`));
  });

  it('indents group members under their group and names whole groups as upstream', () => {
    for (const [group, members] of Object.entries(monitoring.groups)) {
      const header = lines.indexOf(`  [${group}]`);
      expect(header).toBeGreaterThan(0);
      members.forEach((m, i) => expect(lines[header + 1 + i]).toMatch(new RegExp(`^ {4}${m}\\s`)));
    }
    const alert = lines.find((l) => /^\s+alert_on_failure\s/.test(l))!;
    expect(alert).toMatch(/after infrastructure_health, data_quality · trigger rule one_failed$/);
    expect(lines.find((l) => /^\s+check_kafka\s/.test(l))).not.toMatch(/trigger rule/);
  });

  it('names a group by its members when only some of them are upstream', () => {
    const spec: PipelineSpec = buildPipeline(
      'partial',
      pipelineSchema.parse({
        tasks: [
          { id: 'a', operator: 'command', group: 'g' },
          { id: 'b', operator: 'command', group: 'g' },
          { id: 'c', operator: 'command', upstream: ['a'] },
          { id: 'd', operator: 'command', upstream: ['g', 'c'] },
        ],
      }),
    );
    expect(
      upstreamLabels(
        spec,
        spec.tasks.find((t) => t.id === 'c')!,
      ),
    ).toEqual(['a']);
    expect(
      upstreamLabels(
        spec,
        spec.tasks.find((t) => t.id === 'd')!,
      ),
    ).toEqual(['g', 'c']);
    expect(renderText(spec)).toContain('schedule: none');
  });
});

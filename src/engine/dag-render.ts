/**
 * A pipeline's DAG as `dags show` and `GET /api/v1/pipelines/:id/graph` draw it: a text listing
 * in topological order with task groups, Mermaid (`flowchart`, groups as `subgraph`) and
 * Graphviz DOT (groups as `cluster_` subgraphs). Nodes carry their operator and, when it is not
 * `all_success`, their trigger rule; edges into such a task are dashed. Pure: a PipelineSpec in,
 * a string (or a plain object) out.
 */
import type { TriggerRule } from '../protocol';
import type { PipelineSpec, TaskSpec } from './dag';

export const GRAPH_FORMATS = ['text', 'mermaid', 'dot'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export interface GraphNode {
  id: string;
  operator: string;
  group: string | null;
  trigger_rule: TriggerRule;
  upstream: readonly string[];
  downstream: readonly string[];
}

export interface GraphJson {
  pipeline: string;
  aliases: readonly string[];
  description: string | null;
  schedule: string | null;
  timezone: string;
  /** Tasks in topological order. */
  nodes: GraphNode[];
  /** One edge per (upstream task, task), groups expanded. */
  edges: Array<{ from: string; to: string }>;
  groups: Array<{ id: string; tasks: readonly string[] }>;
}

type Spec = Pick<PipelineSpec, 'id' | 'aliases' | 'description' | 'schedule' | 'timezone' | 'tasks' | 'groups'>;

/** Every (upstream, task) pair, in the tasks' topological order. */
export function graphEdges(spec: Pick<PipelineSpec, 'tasks'>): Array<{ from: string; to: string }> {
  return spec.tasks.flatMap((t) => t.upstream.map((u) => ({ from: u, to: t.id })));
}

export function graphJson(spec: Spec): GraphJson {
  return {
    pipeline: spec.id,
    aliases: spec.aliases,
    description: spec.description,
    schedule: spec.schedule,
    timezone: spec.timezone,
    nodes: spec.tasks.map((t) => ({ id: t.id, operator: t.operator, group: t.group, trigger_rule: t.triggerRule, upstream: t.upstream, downstream: t.downstream })),
    edges: graphEdges(spec),
    groups: Object.entries(spec.groups).map(([id, tasks]) => ({ id, tasks })),
  };
}

/**
 * A task's upstream for people: a whole group it depends on (and is not part of) by the
 * group's name, the rest by task id, in upstream order.
 */
export function upstreamLabels(spec: Pick<PipelineSpec, 'groups'>, task: Pick<TaskSpec, 'upstream' | 'group'>): string[] {
  const out: string[] = [];
  const covered = new Set<string>();
  for (const u of task.upstream) {
    if (covered.has(u)) continue;
    const group = Object.entries(spec.groups).find(([name, members]) => name !== task.group && members.includes(u) && members.every((m) => task.upstream.includes(m)));
    if (group) {
      out.push(group[0]);
      for (const m of group[1]) covered.add(m);
    } else {
      out.push(u);
      covered.add(u);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// text

/**
 * An indented topological listing: the pipeline line, then every task with its operator, what
 * it runs after and its trigger rule when not all_success; tasks of a group are indented under
 * the group's name (a group whose tasks are not contiguous in the order shows up again).
 */
export function renderText(spec: Spec): string {
  const header = [
    `${spec.id}${spec.aliases.length ? ` (${spec.aliases.join(', ')})` : ''}${spec.description ? ` — ${spec.description}` : ''}`,
    `schedule: ${spec.schedule ?? 'none (manual or event triggers only)'}${spec.schedule ? ` (${spec.timezone})` : ''} · ${spec.tasks.length} task(s) · ${Object.keys(spec.groups).length} group(s)`,
    '',
  ];
  const nameWidth = Math.max(...spec.tasks.map((t) => t.id.length + (t.group ? 4 : 2)));
  const opWidth = Math.max(...spec.tasks.map((t) => t.operator.length));
  const lines: string[] = [];
  let currentGroup: string | null = null;
  for (const t of spec.tasks) {
    if (t.group !== currentGroup) {
      if (t.group !== null) lines.push(`  [${t.group}]`);
      currentGroup = t.group;
    }
    const indent = t.group ? '    ' : '  ';
    const after = upstreamLabels(spec, t);
    const cells = [`${indent}${t.id}`.padEnd(nameWidth), t.operator.padEnd(opWidth)];
    const tail = [after.length ? `after ${after.join(', ')}` : '(root)', ...(t.triggerRule !== 'all_success' ? [`trigger rule ${t.triggerRule}`] : [])];
    lines.push(`${cells.join('  ')}  ${tail.join(' · ')}`);
  }
  return [...header, ...lines].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Mermaid and DOT

const MERMAID_RESERVED = new Set(['end', 'graph', 'subgraph', 'flowchart', 'style', 'classdef', 'class', 'click', 'linkstyle', 'direction', 'default']);

/** Node and subgraph ids safe in Mermaid: letters, digits and `_`, prefixed, unique. */
function mermaidIds(spec: Spec): { task: Map<string, string>; group: Map<string, string> } {
  const used = new Set<string>();
  const make = (prefix: string, name: string): string => {
    const base = `${prefix}${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    let id = base;
    for (let i = 2; used.has(id.toLowerCase()) || MERMAID_RESERVED.has(id.toLowerCase()); i++) id = `${base}_${i}`;
    used.add(id.toLowerCase());
    return id;
  };
  return {
    task: new Map(spec.tasks.map((t) => [t.id, make('t_', t.id)])),
    group: new Map(Object.keys(spec.groups).map((g) => [g, make('g_', g)])),
  };
}

/** Text inside a quoted Mermaid label: quotes and angle brackets as entity codes. */
const mermaidText = (s: string): string => s.replace(/#/g, '#35;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

const nodeLabel = (t: TaskSpec, br: string, esc: (s: string) => string): string =>
  [esc(t.id), esc(t.triggerRule === 'all_success' ? t.operator : `${t.operator} · ${t.triggerRule}`)].join(br);

/** Mermaid `flowchart LR`: groups as subgraphs, dashed edges into tasks whose rule is not all_success. */
export function renderMermaid(spec: Spec): string {
  const ids = mermaidIds(spec);
  const out = [`%% pipeline ${mermaidText(spec.id).replace(/\n/g, ' ')}`, 'flowchart LR'];
  const node = (t: TaskSpec, indent: string) => `${indent}${ids.task.get(t.id)!}["${nodeLabel(t, '<br/>', mermaidText)}"]`;
  for (const [group, members] of Object.entries(spec.groups)) {
    out.push(`  subgraph ${ids.group.get(group)!}["${mermaidText(group)}"]`);
    for (const m of members)
      out.push(
        node(
          spec.tasks.find((t) => t.id === m)!,
          '    ',
        ),
      );
    out.push('  end');
  }
  for (const t of spec.tasks) if (t.group === null) out.push(node(t, '  '));
  for (const t of spec.tasks) {
    for (const u of t.upstream) out.push(`  ${ids.task.get(u)!} ${t.triggerRule === 'all_success' ? '-->' : '-.->'} ${ids.task.get(t.id)!}`);
  }
  const ruled = spec.tasks.filter((t) => t.triggerRule !== 'all_success');
  if (ruled.length) {
    out.push('  classDef triggerRule stroke-dasharray: 5 5');
    out.push(`  class ${ruled.map((t) => ids.task.get(t.id)!).join(',')} triggerRule`);
  }
  return out.join('\n');
}

/** A DOT quoted string. */
const dotString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
/** Text inside a DOT label (escaped, without quotes), `\n` the line break. */
const dotText = (s: string): string => dotString(s).slice(1, -1);

/** Graphviz DOT `digraph`: groups as `cluster_N` subgraphs, dashed edges into tasks whose rule is not all_success. */
export function renderDot(spec: Spec): string {
  const out = [`digraph ${dotString(spec.id)} {`, '  rankdir=LR;', '  node [shape=box, style=rounded, fontname="Helvetica"];'];
  const node = (t: TaskSpec, indent: string) =>
    `${indent}${dotString(t.id)} [label="${nodeLabel(t, '\\n', dotText)}"${t.triggerRule === 'all_success' ? '' : ', style="rounded,dashed"'}];`;
  Object.entries(spec.groups).forEach(([group, members], i) => {
    out.push(`  subgraph cluster_${i} {`, `    label=${dotString(group)};`);
    for (const m of members)
      out.push(
        node(
          spec.tasks.find((t) => t.id === m)!,
          '    ',
        ),
      );
    out.push('  }');
  });
  for (const t of spec.tasks) if (t.group === null) out.push(node(t, '  '));
  for (const t of spec.tasks) {
    for (const u of t.upstream) out.push(`  ${dotString(u)} -> ${dotString(t.id)}${t.triggerRule === 'all_success' ? '' : ' [style=dashed]'};`);
  }
  out.push('}');
  return out.join('\n');
}

export function renderGraph(spec: Spec, format: GraphFormat): string {
  return format === 'mermaid' ? renderMermaid(spec) : format === 'dot' ? renderDot(spec) : renderText(spec);
}

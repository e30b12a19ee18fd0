/**
 * Reading the generated dashboards back: every query (panel targets and template variables),
 * the metric names a PromQL expression selects, and the expansion of Grafana variables so a
 * panel query can be sent to Prometheus' HTTP API as Grafana would.
 */

export interface PanelQuery {
  dashboard: string;
  panel: string;
  panelId: number;
  refId: string;
  expr: string;
  instant: boolean;
  legend: string;
}

interface PanelJson {
  id?: number;
  title?: string;
  type?: string;
  targets?: Array<{ expr?: string; refId?: string; instant?: boolean; legendFormat?: string }>;
  panels?: PanelJson[];
}

function allPanels(json: Record<string, unknown>): PanelJson[] {
  const out: PanelJson[] = [];
  const walk = (panels: PanelJson[] | undefined) => {
    for (const p of panels ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(json.panels as PanelJson[] | undefined);
  return out;
}

export function panels(json: Record<string, unknown>): Array<{ id: number; title: string; type: string }> {
  return allPanels(json).map((p) => ({ id: p.id ?? -1, title: p.title ?? '', type: p.type ?? '' }));
}

export function panelQueries(json: Record<string, unknown>): PanelQuery[] {
  const dashboard = String(json.title ?? json.uid);
  return allPanels(json).flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      dashboard,
      panel: p.title ?? '',
      panelId: p.id ?? -1,
      refId: t.refId ?? '',
      expr: t.expr ?? '',
      instant: t.instant === true,
      legend: t.legendFormat ?? '',
    })),
  );
}

export interface TemplateVariable {
  name: string;
  type: string;
  query: string;
  allValue?: string;
}

export function templateVariables(json: Record<string, unknown>): TemplateVariable[] {
  const list = ((json.templating as { list?: unknown[] } | undefined)?.list ?? []) as Array<Record<string, unknown>>;
  return list.map((v) => ({
    name: String(v.name),
    type: String(v.type),
    query: typeof v.query === 'string' ? v.query : JSON.stringify(v.query ?? ''),
    allValue: typeof v.allValue === 'string' ? v.allValue : undefined,
  }));
}

/** PromQL words that look like identifiers but are not metric names. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);

/**
 * Metric names selected by a PromQL expression (or a Grafana `label_values(metric, label)`
 * variable query). A small scanner, enough for the expressions written here: strings, label
 * matchers, range/subquery brackets, grouping clauses and offsets are removed, then every
 * identifier that is not a keyword and not followed by `(` (a function or aggregation) is a
 * metric name.
 */
export function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ');
  s = s.replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  s = s.replace(/\boffset\s+-?[0-9a-z]+/g, ' ');
  // label_values(metric, label): the second argument is a label, not a metric
  s = s.replace(/\blabel_values\s*\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)/g, ' $1 ');
  const names = new Set<string>();
  const token = /(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g;
  for (const m of s.matchAll(token)) {
    const [, num, ident, call] = m;
    if (num !== undefined || ident === undefined || call !== undefined) continue;
    if (KEYWORDS.has(ident.toLowerCase())) continue;
    names.add(ident);
  }
  return [...names].sort();
}

/** Grafana variables an expression uses (`$name`, `${name}`, `[[name]]`). */
export function variablesUsed(expr: string): string[] {
  const found = new Set<string>();
  for (const m of expr.matchAll(/\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]/g)) found.add((m[1] ?? m[2] ?? m[3]) as string);
  return [...found].sort();
}

/** Built-in variables Grafana fills in itself. */
export const GRAFANA_BUILTINS = new Set(['__rate_interval', '__interval', '__range', '__interval_ms', '__range_s', '__range_ms']);

/**
 * Replace Grafana variables as Grafana would before sending the query: template variables
 * with their value ("All" = the variable's allValue, `.*`), built-ins with the given durations.
 */
export function expandVariables(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    const v = values[name];
    if (v === undefined) throw new Error(`no value for Grafana variable $${name} in: ${expr}`);
    return v;
  });
}

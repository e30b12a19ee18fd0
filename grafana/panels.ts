/**
 * Small helpers over the SDK builders: every panel of the generated dashboards reads the
 * Prometheus data source chosen by the `datasource` variable, gets a stable id, and is placed
 * by the dashboard builder's auto-layout (x = y = 0 means "next free slot").
 */
import type { DashboardTypes } from './sdk';
import { common, dashboard, prometheus } from './sdk';

type ValueMapping = DashboardTypes.ValueMapping;
type Threshold = DashboardTypes.Threshold;

/** The data source variable every panel and template variable uses. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** Structural type shared by the SDK's panel builders (stat, timeseries, state timeline, ...). */
export interface PanelLike<T> {
  id(id: number): T;
  gridPos(pos: DashboardTypes.GridPos): T;
  datasource(ds: { type?: string; uid?: string }): T;
  withTarget(target: ReturnType<typeof query>): T;
  description(text: string): T;
}

export interface QueryOptions {
  legend?: string;
  /** Instant query (stat panels, tables). */
  instant?: boolean;
}

export function query(expr: string, { legend, instant }: QueryOptions = {}) {
  const b = new prometheus.DataqueryBuilder().expr(expr).datasource(DATASOURCE).legendFormat(legend ?? '__auto');
  if (instant) b.instant();
  else b.range();
  return b;
}

/** Assigns ids in creation order so regeneration is byte-for-byte stable. */
export function createPanelIds(): () => number {
  let next = 1;
  return () => next++;
}

/**
 * Finish a panel: id, size (x = y = 0 lets the dashboard builder place it), data source,
 * description and queries with refIds A, B, C...
 */
export function finish<T extends PanelLike<T>>(panel: T, id: number, size: { w: number; h: number }, description: string, targets: ReturnType<typeof query>[]): T {
  panel.id(id).gridPos({ x: 0, y: 0, w: size.w, h: size.h }).datasource(DATASOURCE).description(description);
  targets.forEach((t, i) => panel.withTarget(t.refId(String.fromCharCode(65 + i))));
  return panel;
}

/** Value → text/color mappings (e.g. check status codes). */
export function valueMappings(entries: ReadonlyArray<readonly [number, string, string]>): ValueMapping[] {
  return [
    {
      type: dashboard.MappingType.ValueToText,
      options: Object.fromEntries(entries.map(([value, text, color], index) => [String(value), { text, color, index }])),
    },
  ];
}

export function thresholds(steps: ReadonlyArray<readonly [number | null, string]>) {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps.map(([value, color]): Threshold => ({ value, color })));
}

export function fixedColor(color: string) {
  return new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Fixed).fixedColor(color);
}

export function thresholdColors() {
  return new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds);
}

export function tableLegend(calcs: string[] = ['lastNotNull', 'max']) {
  return new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Bottom).showLegend(true).calcs(calcs);
}

export function lastValue() {
  return new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);
}

/** A multi-value template variable over one label of one metric, "All" = `.*`. */
export function labelVariable(name: string, label: string, metric: string, title: string) {
  return new dashboard.QueryVariableBuilder(name)
    .label(title)
    .datasource(DATASOURCE)
    .query(`label_values(${metric}, ${label})`)
    .definition(`label_values(${metric}, ${label})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

export function datasourceVariable() {
  return new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus').current({ selected: true, text: 'Prometheus', value: 'prometheus' });
}

/**
 * Helpers over the SDK builders and the panel factory the dashboards are written with: every
 * panel of the generated dashboards reads the Prometheus data source chosen by the `datasource`
 * variable, gets a stable id (in creation order, from `section`), and is placed by the dashboard
 * builder's auto-layout (x = y = 0 means "next free slot").
 */
import type { DashboardTypes } from './sdk';
import { bargauge, common, dashboard, prometheus, stat, statetimeline, table, timeseries } from './sdk';

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
  const b = new prometheus.DataqueryBuilder()
    .expr(expr)
    .datasource(DATASOURCE)
    .legendFormat(legend ?? '__auto');
  if (instant) b.instant();
  else b.range();
  return b;
}

/** Assigns ids in creation order so regeneration is byte-for-byte stable. */
export function createPanelIds(): () => number {
  let next = 1;
  return () => next++;
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

// ---------------------------------------------------------------- panel factory
//
// One declarative call per panel: `statPanel({ title, description, size, targets, ... })`.
// Every factory sets the fields in the same order (visual options, field defaults, overrides,
// then gridPos, data source, description and queries); `section` gives the row
// and its panels their ids in order.

type Query = ReturnType<typeof query>;
type DynamicConfigValue = DashboardTypes.DynamicConfigValue;

/** Threshold steps, lowest first: `[[null, 'green'], [1, 'red']]` (null = base). */
export type ThresholdSteps = ReadonlyArray<readonly [number | null, string]>;

/** A field override: the properties apply to the series with this display name, or whose name matches the regexp. */
export type FieldOverride = { byName: string; properties: DynamicConfigValue[] } | { byRegexp: string; properties: DynamicConfigValue[] };

/** What every panel has: a title, a description, a size (placed by the dashboard's auto-layout) and its queries. */
export interface PanelBase {
  title: string;
  description: string;
  size: { w: number; h: number };
  /** Queries, given refIds A, B, C... in order. */
  targets: Query[];
}

/** Field defaults shared by the panel types. */
export interface FieldOptions {
  unit?: string;
  min?: number;
  max?: number;
  mappings?: ValueMapping[];
  /** Threshold steps; a panel with thresholds is coloured by them. */
  thresholds?: ThresholdSteps;
  overrides?: readonly FieldOverride[];
}

/** Structural type of the SDK panel builders' field-config setters. */
interface FieldConfigurable<T> extends PanelLike<T> {
  title(title: string): T;
  unit(unit: string): T;
  min(min: number): T;
  max(max: number): T;
  mappings(mappings: ValueMapping[]): T;
  thresholds(t: ReturnType<typeof thresholds>): T;
  colorScheme(c: ReturnType<typeof thresholdColors>): T;
  overrideByName(name: string, properties: DynamicConfigValue[]): T;
  overrideByRegexp(regexp: string, properties: DynamicConfigValue[]): T;
}

/** A finished panel without its id (the section assigns it). */
export interface PanelSpec {
  id(id: number): unknown;
  build(): DashboardTypes.Panel;
}

function fieldDefaults<T extends FieldConfigurable<T>>(panel: T, o: FieldOptions): void {
  if (o.unit !== undefined) panel.unit(o.unit);
  if (o.min !== undefined) panel.min(o.min);
  if (o.max !== undefined) panel.max(o.max);
  if (o.mappings) panel.mappings(o.mappings);
  if (o.thresholds) panel.thresholds(thresholds(o.thresholds)).colorScheme(thresholdColors());
  for (const ov of o.overrides ?? []) {
    if ('byName' in ov) panel.overrideByName(ov.byName, ov.properties);
    else panel.overrideByRegexp(ov.byRegexp, ov.properties);
  }
}

function place<T extends PanelLike<T>>(panel: T, p: PanelBase): T {
  panel.gridPos({ x: 0, y: 0, w: p.size.w, h: p.size.h }).datasource(DATASOURCE).description(p.description);
  p.targets.forEach((t, i) => panel.withTarget(t.refId(String.fromCharCode(65 + i))));
  return panel;
}

export interface StatOptions extends PanelBase, FieldOptions {
  /** What is coloured: the background, the value (SDK default) or nothing. */
  colorMode?: 'background' | 'value' | 'none';
  /** What is shown: value and series name, the name only, or Grafana's choice (SDK default). */
  textMode?: 'value_and_name' | 'name' | 'value' | 'auto';
  /** Sparkline under the value: area (SDK default) or none. */
  graphMode?: 'area' | 'none';
}

const COLOR_MODE = { background: common.BigValueColorMode.Background, value: common.BigValueColorMode.Value, none: common.BigValueColorMode.None } as const;
const TEXT_MODE = {
  value_and_name: common.BigValueTextMode.ValueAndName,
  name: common.BigValueTextMode.Name,
  value: common.BigValueTextMode.Value,
  auto: common.BigValueTextMode.Auto,
} as const;
const GRAPH_MODE = { area: common.BigValueGraphMode.Area, none: common.BigValueGraphMode.None } as const;

/** A stat panel showing the last non-null value of each series. */
export function statPanel(o: StatOptions): InstanceType<typeof stat.PanelBuilder> {
  const p = new stat.PanelBuilder().title(o.title);
  if (o.colorMode) p.colorMode(COLOR_MODE[o.colorMode]);
  if (o.textMode) p.textMode(TEXT_MODE[o.textMode]);
  if (o.graphMode) p.graphMode(GRAPH_MODE[o.graphMode]);
  p.reduceOptions(lastValue());
  fieldDefaults(p, o);
  return place(p, o);
}

export interface TimeseriesOptions extends PanelBase, FieldOptions {
  /** Lines (default), bars side by side, or bars stacked per time bucket. */
  style?: 'lines' | 'bars' | 'stacked-bars';
  /** Calculations in the table legend (default last and max). */
  legendCalcs?: string[];
}

/** A time series panel with a table legend. */
export function timeseriesPanel(o: TimeseriesOptions): InstanceType<typeof timeseries.PanelBuilder> {
  const p = new timeseries.PanelBuilder().title(o.title);
  if (o.style === 'bars' || o.style === 'stacked-bars') p.drawStyle(common.GraphDrawStyle.Bars).fillOpacity(80);
  if (o.style === 'stacked-bars') p.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  p.legend(tableLegend(o.legendCalcs));
  fieldDefaults(p, o);
  return place(p, o);
}

export interface StateTimelineOptions extends PanelBase, FieldOptions {
  /** Merge equal consecutive values into one bar (default true). */
  mergeValues?: boolean;
  /** Show the value text on the bars: SDK default when absent. */
  showValue?: 'never' | 'auto' | 'always';
  /** Set false to leave gaps between samples as they are. */
  insertNulls?: false;
}

const VISIBILITY = { never: common.VisibilityMode.Never, auto: common.VisibilityMode.Auto, always: common.VisibilityMode.Always } as const;

/** A state timeline: one row per series, coloured by the value mappings or thresholds. */
export function stateTimelinePanel(o: StateTimelineOptions): InstanceType<typeof statetimeline.PanelBuilder> {
  const p = new statetimeline.PanelBuilder().title(o.title);
  if (o.showValue) p.showValue(VISIBILITY[o.showValue]);
  p.mergeValues(o.mergeValues ?? true);
  if (o.insertNulls === false) p.insertNulls(false);
  fieldDefaults(p, o);
  return place(p, o);
}

/** A horizontal gradient bar gauge of the last value of each series. */
export function barGaugePanel(o: PanelBase & FieldOptions): InstanceType<typeof bargauge.PanelBuilder> {
  const p = new bargauge.PanelBuilder().title(o.title).displayMode(common.BarGaugeDisplayMode.Gradient).orientation(common.VizOrientation.Horizontal).reduceOptions(lastValue());
  fieldDefaults(p, o);
  return place(p, o);
}

export interface TableOptions extends PanelBase, FieldOptions {
  /** Sort by this column, largest first. */
  sortDescBy?: string;
  transformations?: DashboardTypes.DataTransformerConfig[];
}

/** A table panel (queries should use the table format). */
export function tablePanel(o: TableOptions): InstanceType<typeof table.PanelBuilder> {
  const p = new table.PanelBuilder().title(o.title);
  if (o.sortDescBy) p.sortBy([new common.TableSortByFieldStateBuilder().displayName(o.sortDescBy).desc(true)]);
  for (const t of o.transformations ?? []) p.withTransformation(t);
  fieldDefaults(p, o);
  return place(p, o);
}

/** A dashboard row and the panels under it. */
export interface Section {
  title: string;
  panels: PanelSpec[];
}

/** Adds a row and its panels to the dashboard, giving each its id in order (row first). */
export function section(b: InstanceType<typeof dashboard.DashboardBuilder>, nextId: () => number, s: Section): void {
  b.withRow(new dashboard.RowBuilder(s.title).id(nextId()));
  for (const panel of s.panels) {
    panel.id(nextId());
    b.withPanel(panel);
  }
}

export interface DashboardOptions {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  /** Default time range start, e.g. `now-6h`. */
  from: string;
  /** Template variables after the data source variable. */
  variables: ReturnType<typeof labelVariable>[];
  sections: Section[];
}

/**
 * A dashboard of the generated set: browser time zone, 30 s refresh, shared crosshair, a link
 * to the other dashboards with the same tags, the `datasource` variable, then the given
 * variables and sections (ids in order).
 */
export function buildDashboard(o: DashboardOptions): Record<string, unknown> {
  const b = new dashboard.DashboardBuilder(o.title)
    .uid(o.uid)
    .description(o.description)
    .tags(o.tags)
    .editable()
    .timezone('browser')
    .refresh('30s')
    .time({ from: o.from, to: 'now' })
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(new dashboard.DashboardLinkBuilder('Pipeline Supervisor').type(dashboard.DashboardLinkType.Dashboards).tags(o.tags).asDropdown(false).includeVars(true).keepTime(true))
    .withVariable(datasourceVariable());
  for (const v of o.variables) b.withVariable(v);
  const nextId = createPanelIds();
  for (const s of o.sections) section(b, nextId, s);
  return b.build() as unknown as Record<string, unknown>;
}

/**
 * The panel factory of grafana/panels.ts: what each helper puts into the panel JSON (the
 * dashboards test checks the dashboards built with it as a whole).
 */
import { barGaugePanel, buildDashboard, labelVariable, query, section, stateTimelinePanel, statPanel, tablePanel, timeseriesPanel, valueMappings } from '../../../grafana/panels';
import { dashboard } from '../../../grafana/sdk';

const DS = { type: 'prometheus', uid: '${datasource}' };
const base = { title: 'T', description: 'what it shows', size: { w: 6, h: 4 } };

type Json = Record<string, unknown>;

/** The value at a path of a built panel or dashboard (undefined when a step is missing). */
function at(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Json)[key] : undefined;
  return v;
}

function list(value: unknown, ...path: string[]): Json[] {
  const v = at(value, ...path);
  return Array.isArray(v) ? (v as Json[]) : [];
}

describe('panel factory', () => {
  it('every panel: title, description, auto-layout gridPos, the datasource variable, targets with refIds A, B, ...', () => {
    const p = timeseriesPanel({ ...base, targets: [query('up', { legend: 'a' }), query('down', { instant: true })] }).build() as unknown;
    expect(p).toMatchObject({ type: 'timeseries', title: 'T', description: 'what it shows', gridPos: { x: 0, y: 0, w: 6, h: 4 }, datasource: DS });
    expect(at(p, 'targets')).toEqual([
      expect.objectContaining({ expr: 'up', refId: 'A', legendFormat: 'a', range: true, datasource: DS }),
      expect.objectContaining({ expr: 'down', refId: 'B', legendFormat: '__auto', instant: true, datasource: DS }),
    ]);
    expect(at(p, 'id')).toBeUndefined(); // section() assigns it
  });

  it('statPanel: colour, text and graph modes, last non-null value, thresholds that colour the value, mappings, unit/min/max', () => {
    const mappings = valueMappings([
      [0, 'DOWN', 'red'],
      [1, 'UP', 'green'],
    ]);
    const p = statPanel({
      ...base,
      targets: [query('up')],
      colorMode: 'background',
      textMode: 'value_and_name',
      graphMode: 'none',
      unit: 'percentunit',
      min: 0,
      max: 1,
      mappings,
      thresholds: [
        [null, 'red'],
        [1, 'green'],
      ],
    }).build() as unknown;
    expect(at(p, 'type')).toBe('stat');
    expect(at(p, 'options')).toMatchObject({ colorMode: 'background', textMode: 'value_and_name', graphMode: 'none', reduceOptions: { calcs: ['lastNotNull'], values: false } });
    expect(at(p, 'fieldConfig', 'defaults')).toEqual({
      unit: 'percentunit',
      min: 0,
      max: 1,
      mappings,
      thresholds: {
        mode: 'absolute',
        steps: [
          { value: null, color: 'red' },
          { value: 1, color: 'green' },
        ],
      },
      color: { mode: 'thresholds' },
    });
  });

  it('statPanel without options keeps the SDK defaults and sets no field defaults', () => {
    const p = statPanel({ ...base, targets: [query('up')] }).build() as unknown;
    expect(at(p, 'options')).toMatchObject({ colorMode: 'value', textMode: 'auto', graphMode: 'area', reduceOptions: { calcs: ['lastNotNull'] } });
    expect(at(p, 'fieldConfig', 'defaults') ?? {}).toEqual({});
  });

  it('overrides by name and by regexp', () => {
    const p = statPanel({
      ...base,
      targets: [query('up')],
      overrides: [
        { byName: 'expected', properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }] },
        { byRegexp: '.*threshold$', properties: [{ id: 'custom.lineWidth', value: 2 }] },
      ],
    }).build() as unknown;
    expect(at(p, 'fieldConfig', 'overrides')).toEqual([
      { matcher: { id: 'byName', options: 'expected' }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }] },
      { matcher: { id: 'byRegexp', options: '.*threshold$' }, properties: [{ id: 'custom.lineWidth', value: 2 }] },
    ]);
  });

  it('timeseriesPanel: a table legend (last and max by default), lines, bars or stacked bars', () => {
    const lines = timeseriesPanel({ ...base, targets: [query('up')], unit: 's' }).build() as unknown;
    expect(at(lines, 'options', 'legend')).toMatchObject({ displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] });
    expect(at(lines, 'fieldConfig', 'defaults', 'unit')).toBe('s');
    expect(at(lines, 'fieldConfig', 'defaults', 'custom', 'drawStyle')).toBeUndefined();

    const bars = timeseriesPanel({ ...base, targets: [query('up')], style: 'bars', legendCalcs: ['sum'] }).build() as unknown;
    expect(at(bars, 'fieldConfig', 'defaults', 'custom')).toMatchObject({ drawStyle: 'bars', fillOpacity: 80 });
    expect(at(bars, 'fieldConfig', 'defaults', 'custom', 'stacking')).toBeUndefined();
    expect(at(bars, 'options', 'legend', 'calcs')).toEqual(['sum']);

    const stacked = timeseriesPanel({ ...base, targets: [query('up')], style: 'stacked-bars' }).build() as unknown;
    expect(at(stacked, 'fieldConfig', 'defaults', 'custom')).toMatchObject({ drawStyle: 'bars', fillOpacity: 80, stacking: { mode: 'normal' } });
  });

  it('stateTimelinePanel: merges equal values unless told not to, value text and null insertion on request', () => {
    const merged = stateTimelinePanel({ ...base, targets: [query('up')], showValue: 'never', thresholds: [[null, 'green']] }).build() as unknown;
    expect(at(merged, 'type')).toBe('state-timeline');
    expect(at(merged, 'options')).toMatchObject({ mergeValues: true, showValue: 'never' });
    expect(at(merged, 'fieldConfig', 'defaults', 'color')).toEqual({ mode: 'thresholds' });

    const raw = stateTimelinePanel({ ...base, targets: [query('up')], mergeValues: false, insertNulls: false, showValue: 'auto' }).build() as unknown;
    expect(at(raw, 'options')).toMatchObject({ mergeValues: false, showValue: 'auto' });
    expect(at(raw, 'fieldConfig', 'defaults', 'custom')).toMatchObject({ insertNulls: false });
    expect(at(raw, 'fieldConfig', 'defaults', 'thresholds')).toBeUndefined();
  });

  it('barGaugePanel: horizontal gradient bars of the last value', () => {
    const p = barGaugePanel({ ...base, targets: [query('up')], max: 1.5 }).build() as unknown;
    expect(at(p, 'type')).toBe('bargauge');
    expect(at(p, 'options')).toMatchObject({ displayMode: 'gradient', orientation: 'horizontal', reduceOptions: { calcs: ['lastNotNull'] } });
    expect(at(p, 'fieldConfig', 'defaults', 'max')).toBe(1.5);
  });

  it('tablePanel: sorted by a column, largest first, with transformations', () => {
    const organize = { id: 'organize', options: { renameByName: { Value: 'lag' } } };
    const p = tablePanel({ ...base, targets: [query('up')], sortDescBy: 'lag', transformations: [organize] }).build() as unknown;
    expect(at(p, 'type')).toBe('table');
    expect(at(p, 'options', 'sortBy')).toEqual([{ displayName: 'lag', desc: true }]);
    expect(at(p, 'transformations')).toEqual([organize]);
  });

  it('section adds a row, then its panels, with ids in order', () => {
    const b = new dashboard.DashboardBuilder('d');
    let next = 7;
    section(b, () => next++, { title: 'Row', panels: [statPanel({ ...base, targets: [query('a')] }), timeseriesPanel({ ...base, targets: [query('b')] })] });
    const json = b.build() as unknown as Json;
    expect(list(json, 'panels').map((p) => [at(p, 'type'), at(p, 'id'), at(p, 'title')])).toEqual([
      ['row', 7, 'Row'],
      ['stat', 8, 'T'],
      ['timeseries', 9, 'T'],
    ]);
  });

  it('buildDashboard: the shared header (uid, tags, link, refresh, time, crosshair), the datasource variable first, ids from 1', () => {
    const json = buildDashboard({
      uid: 'u',
      title: 'Title',
      description: 'D',
      tags: ['t'],
      from: 'now-1h',
      variables: [labelVariable('check', 'check', 'supervisor_check_status', 'Check')],
      sections: [
        { title: 'A', panels: [statPanel({ ...base, targets: [query('a')] })] },
        { title: 'B', panels: [statPanel({ ...base, targets: [query('b')] })] },
      ],
    }) as Json;
    expect(json).toMatchObject({
      uid: 'u',
      title: 'Title',
      description: 'D',
      tags: ['t'],
      editable: true,
      timezone: 'browser',
      refresh: '30s',
      time: { from: 'now-1h', to: 'now' },
      graphTooltip: 1,
    });
    expect(at(json, 'links')).toEqual([expect.objectContaining({ title: 'Pipeline Supervisor', type: 'dashboards', tags: ['t'], includeVars: true, keepTime: true })]);
    expect(list(json, 'templating', 'list').map((v) => v.name)).toEqual(['datasource', 'check']);
    expect(list(json, 'panels').map((p) => at(p, 'id'))).toEqual([1, 2, 3, 4]);
  });
});

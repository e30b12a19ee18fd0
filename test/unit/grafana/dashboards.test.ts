/**
 * The generated dashboards: regenerating gives the committed JSON, the layout and data source
 * wiring are sound, value mappings follow the supervisor's codes, and every query selects only
 * metrics the supervisor exports (a real /metrics scrape of the daemon built from the default
 * config, plus the metric definitions in the source).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildDashboards, CHECK_STATUS_MAPPINGS, LAG_STATUS_MAPPINGS, serialize } from '../../../grafana/dashboards';
import { allSeriesNames, REPO_ROOT, typesFromExposition, typesFromSource } from '../../../grafana/exported-metrics';
import { DASHBOARDS_DIR, generate } from '../../../grafana/generate';
import { GRAFANA_BUILTINS, metricNames, panelQueries, panels, templateVariables, variablesUsed } from '../../../grafana/queries';
import { createDaemon } from '../../../src/daemon';
import { LAG_STATUS_CODE } from '../../../src/metrics/signal-metrics';
import { STATUSES, statusRank } from '../../../src/protocol';
import { silentLogger } from '../../../src/shared/logger';

const dashboards = buildDashboards();

describe('generated dashboards', () => {
  it.each(dashboards.map((d) => [d.file, d] as const))('%s: regenerating gives the committed JSON', (file, d) => {
    const committed = fs.readFileSync(path.join(DASHBOARDS_DIR, file), 'utf8');
    expect(serialize(d.json)).toBe(committed);
    expect(JSON.parse(committed).uid).toBe(d.uid);
  });

  it('generate --check finds nothing stale and no stray JSON in grafana/dashboards/', () => {
    expect(generate({ check: true })).toEqual({ written: [], stale: [], extra: [] });
  });

  it('generate --check fails on a hand-edited copy and regenerating fixes it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grafana-gen-'));
    try {
      expect(generate({ dir }).written).toHaveLength(dashboards.length);
      const file = path.join(dir, dashboards[0]!.file);
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"refresh": "30s"', '"refresh": "5s"'));
      expect(generate({ dir, check: true }).stale).toEqual([file]);
      expect(generate({ dir }).written).toEqual([file]);
      expect(generate({ dir, check: true }).stale).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the CLI exits 0 on --check', () => {
    const res = spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), ['grafana/generate.ts', '--check'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: expect.not.stringContaining('out of date') });
    expect(res.stdout).toContain('up to date');
  });

  it('uids are stable and unique', () => {
    expect(dashboards.map((d) => d.uid)).toEqual(['pipeline-supervisor', 'pipeline-supervisor-kafka-lag']);
  });

  it.each(dashboards.map((d) => [d.uid, d] as const))('%s: panel ids unique, every panel queries the datasource variable, grid inside 24 columns without overlap', (_uid, d) => {
    const ps = panels(d.json);
    expect(new Set(ps.map((p) => p.id)).size).toBe(ps.length);
    const raw = d.json.panels as Array<{
      type: string;
      gridPos: { x: number; y: number; w: number; h: number };
      datasource?: unknown;
      targets?: Array<{ datasource?: unknown; refId?: string; expr?: string }>;
    }>;
    const cells = new Set<string>();
    for (const p of raw) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`)).toBe(false);
          cells.add(`${i},${j}`);
        }
      if (p.type === 'row') continue;
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length).toBeGreaterThan(0);
      expect(new Set(p.targets!.map((t) => t.refId)).size).toBe(p.targets!.length);
      for (const t of p.targets!) {
        expect(t.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(t.expr?.trim()).toBeTruthy();
      }
    }
  });

  it.each(dashboards.map((d) => [d.uid, d] as const))('%s: every variable a query uses is defined (or a Grafana built-in)', (_uid, d) => {
    const defined = new Set(templateVariables(d.json).map((v) => v.name));
    expect(defined.has('datasource')).toBe(true);
    for (const q of panelQueries(d.json))
      for (const v of variablesUsed(q.expr)) expect({ panel: q.panel, v, ok: defined.has(v) || GRAFANA_BUILTINS.has(v) }).toEqual({ panel: q.panel, v, ok: true });
  });

  it('the overview has the rows the design asks for', () => {
    const overview = dashboards[0]!.json;
    const rows = panels(overview)
      .filter((p) => p.type === 'row')
      .map((p) => p.title);
    expect(rows).toEqual(['Health', 'Data freshness (Delta bronze / silver / gold)', 'Kafka', 'Spark', 'Pipelines', 'Alerts', 'Supervisor process']);
    const types = new Set(panels(overview).map((p) => p.type));
    for (const t of ['stat', 'state-timeline', 'timeseries', 'bargauge']) expect(types.has(t)).toBe(true);
  });

  it('value mappings follow the supervisor codes (check status, Burrow status)', () => {
    const texts = (m: typeof CHECK_STATUS_MAPPINGS) =>
      Object.fromEntries(Object.entries((m[0] as { options: Record<string, { text: string }> }).options).map(([k, v]) => [k, v.text]));
    expect(texts(CHECK_STATUS_MAPPINGS)).toEqual(Object.fromEntries(STATUSES.map((s) => [String(statusRank(s)), s.toUpperCase()])));
    expect(texts(LAG_STATUS_MAPPINGS)).toEqual(Object.fromEntries(Object.entries(LAG_STATUS_CODE).map(([s, code]) => [String(code), s])));
  });
});

describe('dashboard queries use only exported metrics', () => {
  let exported: Set<string>;
  let scraped: Set<string>;

  beforeAll(async () => {
    // The daemon as `supervisor start` builds it (nothing connects before start()). A minimal
    // config: metrics are registered whatever the checks and pipelines are; labelled series
    // without a sample still show in the `# TYPE` lines.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grafana-metrics-'));
    const configFile = path.join(dir, 'supervisor.yaml');
    fs.writeFileSync(configFile, 'server:\n  port: 0\nstore:\n  path: state.db\n');
    const daemon = await createDaemon({ configFile, env: {}, logger: silentLogger });
    try {
      const res = await daemon.app.inject({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      const fromScrape = typesFromExposition(res.body);
      scraped = allSeriesNames(fromScrape);
      exported = allSeriesNames(fromScrape, typesFromSource());
    } finally {
      await daemon.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the scrape and the source agree on the basics', () => {
    for (const name of ['supervisor_build_info', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'process_cpu_seconds_total'])
      expect(scraped.has(name)).toBe(true);
    for (const name of [
      'supervisor_check_status',
      'supervisor_delta_freshness_seconds',
      'supervisor_pipeline_runs_total',
      'supervisor_pipeline_run_duration_seconds_bucket',
      'supervisor_alerts_firing',
    ])
      expect(exported.has(name)).toBe(true);
  });

  it('the metric-name scanner finds selectors and skips functions, labels and keywords', () => {
    expect(metricNames('histogram_quantile(0.95, sum by (pipeline, le) (rate(a_bucket{x=~"$p"}[$__rate_interval])))')).toEqual(['a_bucket']);
    expect(metricNames('x and on (job, instance) y')).toEqual(['x', 'y']);
    expect(metricNames('label_replace(z > 0, "outcome", "b", "", "") or w offset 1h')).toEqual(['w', 'z']);
    expect(metricNames('label_values(m, check)')).toEqual(['m']);
    expect(metricNames('count(a == 0) or vector(1e3)')).toEqual(['a']);
  });

  it.each(dashboards.map((d) => [d.uid, d] as const))('%s: panel and variable queries', (_uid, d) => {
    const unknown: string[] = [];
    const queries = [
      ...panelQueries(d.json).map((q) => ({ where: `${q.panel}/${q.refId}`, expr: q.expr })),
      ...templateVariables(d.json)
        .filter((v) => v.type === 'query')
        .map((v) => ({ where: `$${v.name}`, expr: v.query })),
    ];
    expect(queries.length).toBeGreaterThan(5);
    for (const q of queries) {
      const names = metricNames(q.expr);
      expect({ where: q.where, names: names.length > 0 }).toEqual({ where: q.where, names: true });
      for (const n of names) if (!exported.has(n)) unknown.push(`${q.where}: ${n}`);
    }
    expect(unknown).toEqual([]);
  });
});

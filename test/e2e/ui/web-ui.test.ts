/**
 * E2E (issue 17): the web UI in real Chromium (Debian's `chromium`, driven by playwright-core)
 * against a real supervisor process on the local stack (Kafka, S3, Spark master, schema
 * registry) with these signals and pipelines:
 *
 * - the stack's own checks (Kafka cluster, schema registry, Spark, bronze/silver/gold on S3);
 * - a consumer group this test creates with a known lag (lag view), and a Delta table in a
 *   local folder this test writes (`ui_table`): stale at first, then a fresh commit — the
 *   state change that must reach the open overview live, without a reload;
 * - pipeline `ui_demo` (a task group, a stand-in ingestion printing lines for a few seconds).
 *
 * Covered: sign-in, every view rendering that data, the live state change, a trigger from the
 * UI whose Gantt fills and whose log follows live, read-only sessions (no action controls, a
 * forged write is 403), CSRF, sign-out, axe-core on every view (no serious or critical
 * violation). Screenshots of each view go to docs/screenshots/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { endpoints, ensureServices, kafkaClient, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { freshGroup, freshName } from '../../helpers/names';
import { commits, writeLocalCommit } from '../../helpers/delta-writer';
import { cli, createToken, e2eConfig, freePort, REPO, startSupervisor, tempDir, WebhookReceiver, writeConfig, type SupervisorProcess } from '../../helpers/e2e-supervisor';
import { ensureChromium } from '../../helpers/chromium';

// what the callbacks run in the page (page.evaluate / waitForFunction) use of the DOM; this
// file is compiled with Node's types only
interface DomNode {
  textContent: string | null;
}
declare const document: {
  querySelector(s: string): DomNode | null;
  querySelectorAll(s: string): ArrayLike<DomNode> & Iterable<DomNode>;
  getElementById(id: string): DomNode | null;
};
declare const window: object;

const SHOTS = path.join(REPO, 'docs', 'screenshots');
const AXE = require.resolve('axe-core/axe.min.js');

describe('web UI in Chromium against the real daemon', () => {
  const tmp = tempDir('sup-ui-');
  const receiver = new WebhookReceiver();
  const tableDir = path.join(tmp.dir, 'ui_table');
  const topic = freshName('ui-topic');
  const group = freshGroup('ui-group');
  let sup: SupervisorProcess;
  let browser: Browser;
  let writeToken = '';
  let readToken = '';
  let configFile = '';

  beforeAll(async () => {
    await ensureServices(['kafka', 'schema-registry', 's3', 'spark-master', 'spark-worker', 'smtp']);
    ensureChromium();
    await receiver.listen();
    // a consumer group with a known lag: 10 messages, committed at 3
    const kafka = kafkaClient('ui-e2e');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
    await producer.disconnect();
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '3' }] });
    await admin.disconnect();
    // a Delta table whose last data change is 3 hours old
    writeLocalCommit(tableDir, 0, [...commits.create(), ...commits.write()], Date.now() - 3 * 3_600_000);

    const port = await freePort();
    configFile = writeConfig(
      tmp.dir,
      e2eConfig({
        port,
        hookUrl: receiver.url,
        mailTo: `${freshName('ui')}@example.test`,
        checks: {
          kafka: { kind: 'kafka_cluster', interval: '5s', expected_brokers: 1 },
          lag: { kind: 'consumer_lag', interval: '2s', groups: [group] },
          schema_registry: { kind: 'schema_registry', interval: '30s' },
          spark: { kind: 'spark', interval: '10s', expected_workers: 1, apps: ['harmful-domains-streaming'] },
          bronze_freshness: { kind: 'delta_freshness', interval: '30s', path: '{{ var.bronze_path }}', max_age: '30m' },
          ui_table: { kind: 'delta_freshness', interval: '500ms', path: tableDir, max_age: '1h' },
        },
        pipelines: {
          ui_demo: {
            description: 'web UI e2e: a task group, then a stand-in ingestion that prints lines for a few seconds',
            schedule: '0 * * * *',
            defaults: { retries: 0, execution_timeout: '2m' },
            tasks: [
              { id: 'check_kafka', operator: 'kafka_health', group: 'infrastructure_health', params: { kafka_servers: '{{ var.kafka_servers }}' } },
              { id: 'check_kafka_again', operator: 'kafka_health', group: 'infrastructure_health', params: { kafka_servers: '{{ var.kafka_servers }}' } },
              {
                id: 'write_lines',
                operator: 'ingestion',
                upstream: ['check_kafka', 'check_kafka_again'],
                params: {
                  source_name: null,
                  config_path: path.join(REPO, 'stack/pipeline/sources.yaml'),
                  kafka_servers: '{{ var.kafka_servers }}',
                  execution_mode: 'subprocess',
                  command: [process.execPath, path.join(REPO, 'test/fixtures/e2e/ui-log-writer.js')],
                  env: { UI_LOG_LINES: '60', UI_LOG_MS: '9000' },
                },
              },
              { id: 'notify_done', operator: 'notify', upstream: ['write_lines'], params: { message: 'ui demo done' } },
            ],
          },
        },
        rules: [{ name: 'ui_table_stale', match: { check: 'ui_table' }, status: 'warn', for: '0s', severity: 'warning', summary: 'table ui_table is stale' }],
      }),
    );
    writeToken = await createToken(configFile, 'ui-admin');
    const ro = await cli(configFile, ['--json', 'tokens', 'create', '--name', 'ui-viewer', '--read-only']);
    if (ro.code !== 0) throw new Error(`tokens create --read-only failed: ${ro.stderr}`);
    readToken = (JSON.parse(ro.stdout.trim()) as { token: string }).token;
    sup = await startSupervisor(configFile, port);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    fs.mkdirSync(SHOTS, { recursive: true });
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await sup?.stop(10_000);
    await receiver.close();
    tmp.cleanup();
  });

  const signIn = async (token: string): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (err) => process.stderr.write(`page error: ${err.message}\n`));
    page.on('console', (m) => {
      if (m.type() === 'error') process.stderr.write(`page console: ${m.text()}\n`);
    });
    await page.goto(sup.url);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    return { context, page };
  };

  /** axe-core in the page: the violations of impact serious or critical (none expected). */
  const axe = async (page: Page, view: string): Promise<void> => {
    await page.evaluate(fs.readFileSync(AXE, 'utf8'));
    const violations = await page.evaluate(async () => {
      const w = window as {
        axe: { run(ctx: object, o: object): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> };
      };
      const r = await w.axe.run(document, { resultTypes: ['violations'] });
      return r.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map(
          (v) =>
            `${v.id} (${v.impact}): ${v.help} at ${v.nodes
              .map((n) => n.target.join(' '))
              .slice(0, 3)
              .join(', ')}`,
        );
    });
    expect({ view, violations }).toEqual({ view, violations: [] });
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  it('shows nothing but the sign-in page and the probes without a token', async () => {
    const page = await (await fetch(sup.url)).text();
    expect(page).toContain('<script type="module" src="/ui/assets/js/app.js">');
    for (const p of ['/api/v1/pipelines', '/api/v1/live', '/api/v1/health', '/ui/session', `/api/v1/ui/pipelines/ui_demo/grid`]) {
      expect({ p, status: (await fetch(sup.url + p)).status }).toEqual({ p, status: 401 });
    }
    expect((await fetch(`${sup.url}/healthz`)).status).toBe(200);
    const bad = await fetch(`${sup.url}/ui/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'sup_not-a-token' }) });
    expect(bad.status).toBe(401);
  });

  it('signs in to a session cookie; the overview shows the real signals and changes live without a reload', async () => {
    const { context, page } = await signIn(writeToken);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'sup_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(session.expires).toBeGreaterThan(Date.now() / 1000);

    // real data from the stack's services
    const row = (check: string) => page.locator('table.signals tr', { has: page.locator('td', { hasText: new RegExp(`^${check}$`) }) });
    await row('kafka').first().waitFor({ timeout: 30_000 });
    await expect(row('kafka').first().innerText()).resolves.toMatch(/✓ ok/);
    await row('ui_table').first().waitFor({ timeout: 30_000 });
    await expect(row('ui_table').first().innerText()).resolves.toMatch(/✗ crit|! warn/);
    await page.getByRole('heading', { name: /Alerts firing or pending \([1-9]/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: 'ui_demo' }).waitFor();
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 17));
    await shot(page, 'overview');
    await axe(page, 'overview');

    // the state change: a fresh commit of the table → ok on the open page, no reload
    const t0 = Date.now();
    writeLocalCommit(tableDir, 1, commits.write());
    await page.waitForFunction(
      () => [...document.querySelectorAll('table.signals tr')].some((tr) => /\bui_table\b/.test(tr.textContent ?? '') && /✓ ok/.test(tr.textContent ?? '')),
      undefined,
      { timeout: 10_000, polling: 50 },
    );
    const latency = Date.now() - t0;
    process.stderr.write(`web UI: ui_table crit → ok seen on the overview ${latency} ms after the commit (check interval 500 ms)\n`);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(17);
    await context.close();
  });

  it('pipeline view: grid, graph, schedule; a trigger from the UI creates a run whose Gantt fills and whose log follows live', async () => {
    const { context, page } = await signIn(writeToken);
    await page.goto(`${sup.url}/#/pipeline/ui_demo`);
    await page.getByRole('heading', { name: 'Pipeline ui_demo' }).waitFor();
    await page.getByRole('heading', { name: 'Schedule' }).waitFor();
    await expect(page.locator('section', { has: page.getByRole('heading', { name: 'Schedule' }) }).innerText()).resolves.toMatch(/0 \* \* \* \* \(UTC\)[\s\S]*Next ticks/);
    expect(await page.locator('svg.graph').getAttribute('aria-label')).toMatch(/check_kafka .*write_lines/);
    await expect(page.locator('svg.graph').innerHTML()).resolves.toContain('group infrastructure_health');

    // trigger with conf, through the confirmation dialog
    await page.getByRole('button', { name: 'Trigger…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Trigger ui_demo' });
    await dialog.getByLabel(/Conf/).fill('{"note": "from-the-ui"}');
    await expect(dialog.locator('.what').innerText()).resolves.toMatch(/Creates a run of ui_demo .* with the conf above/);
    await dialog.getByRole('button', { name: 'Trigger run' }).click();
    // the new run appears in the grid and the run list (live run events), with the group collapsible
    const runLink = page
      .locator('section', { has: page.getByRole('heading', { name: 'Runs' }) })
      .getByRole('link', { name: /ui_demo\.manual__/ })
      .first();
    await runLink.waitFor({ timeout: 15_000 });
    const groupToggle = page.getByRole('button', { name: /^[▾▸] group infrastructure_health$/ });
    await groupToggle.click();
    expect(await groupToggle.getAttribute('aria-expanded')).toBe('false');
    await groupToggle.click();
    await shot(page, 'pipeline');
    await axe(page, 'pipeline');

    await runLink.click();
    await page.getByRole('heading', { name: /^Run ui_demo\.manual__/ }).waitFor();
    await expect(page.locator('dd pre.json').innerText()).resolves.toContain('from-the-ui');
    // the Gantt fills live: bars for the group's tasks, then write_lines (no reload in between)
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await page.waitForFunction(() => document.querySelectorAll('svg.gantt g[data-task="write_lines"] rect').length === 1, undefined, { timeout: 30_000 });
    // its log follows live: the line count grows while the task runs
    await page.getByRole('button', { name: /write_lines/ }).click();
    await page
      .waitForFunction(() => /ui-log line \d+ of 60/.test(document.querySelector('pre.log')?.textContent ?? ''), undefined, { timeout: 15_000 })
      .catch(async (err: Error) => {
        throw new Error(`${err.message}\nthe run view shows:\n${(await page.locator('main').innerText()).slice(0, 3000)}`);
      });
    const count = () => page.evaluate(() => (document.querySelector('pre.log')?.textContent?.match(/ui-log line/g) ?? []).length);
    const first = await count();
    await page.waitForFunction((n) => (document.querySelector('pre.log')?.textContent?.match(/ui-log line/g) ?? []).length > n + 5, first, { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelectorAll('svg.gantt g[data-task="notify_done"] rect').length === 1, undefined, { timeout: 30_000 });
    await page.waitForFunction(() => /✓ success/.test(document.getElementById('run-state')?.textContent ?? ''), undefined, { timeout: 30_000 });
    expect(await count()).toBe(60);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    // downloadable
    const href = await page.getByRole('link', { name: 'Download' }).getAttribute('href');
    const text = await page.evaluate(async (u) => (await fetch(u!)).text(), href);
    expect(text).toContain('ui-log line 60 of 60');
    await shot(page, 'run');
    await axe(page, 'run');

    // mark the finished run failed through its dialog: the run view follows (run events)
    await page.getByRole('button', { name: 'Mark run…' }).click();
    const mark = page.getByRole('dialog', { name: 'Mark run' });
    await mark.getByLabel('New state').selectOption('failed');
    await expect(mark.locator('.what').innerText()).resolves.toMatch(/Sets run ui_demo\.manual__\S+ to failed/);
    await mark.getByRole('button', { name: 'Mark', exact: true }).click();
    await page.waitForFunction(() => /✗ failed/.test(document.getElementById('run-state')?.textContent ?? ''), undefined, { timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);

    // pause and unpause through their dialogs (the operations API, audited under the session's name)
    await page.getByRole('link', { name: 'ui_demo', exact: true }).click();
    await page.getByRole('heading', { name: 'Pipeline ui_demo' }).waitFor();
    await page.getByRole('button', { name: 'Pause…', exact: true }).click();
    const pause = page.getByRole('dialog', { name: 'Pause ui_demo' });
    await pause.getByLabel(/Reason/).fill('web UI e2e');
    await pause.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.getByRole('button', { name: 'Unpause…' }).waitFor();
    await expect(page.locator('section', { has: page.getByRole('heading', { name: 'Schedule' }) }).innerText()).resolves.toMatch(/Paused\s+↷ paused/);
    const listed = (await (await fetch(`${sup.url}/api/v1/pipelines`, { headers: { authorization: `Bearer ${writeToken}` } })).json()) as {
      pipelines: Array<{ id: string; paused: boolean }>;
    };
    expect(listed.pipelines.find((p) => p.id === 'ui_demo')?.paused).toBe(true);
    // backfill: the dry-run preview lists the logical dates before anything is created
    await page.getByRole('button', { name: 'Backfill…' }).click();
    const backfill = page.getByRole('dialog', { name: 'Backfill ui_demo' });
    await backfill.getByLabel('Start date').fill('2025-10-05T00:00:00Z');
    await backfill.getByLabel('End date').fill('2025-10-05T03:00:00Z');
    await backfill.getByRole('button', { name: 'Preview (dry run)' }).click();
    await backfill.getByText('4 logical date(s)').waitFor();
    await expect(backfill.locator('ul').innerText()).resolves.toMatch(/2025-10-05T00:00:00Z — run[\s\S]*2025-10-05T03:00:00Z — run/);
    await backfill.getByRole('button', { name: 'Cancel' }).click();
    const backfilled = (await (await fetch(`${sup.url}/api/v1/runs?pipeline=ui_demo&limit=50`, { headers: { authorization: `Bearer ${writeToken}` } })).json()) as {
      runs: Array<{ kind: string }>;
    };
    expect(backfilled.runs.filter((r) => r.kind === 'backfill')).toEqual([]);
    await page.getByRole('button', { name: 'Unpause…' }).click();
    await page.getByRole('dialog', { name: 'Unpause ui_demo' }).getByRole('button', { name: 'Unpause', exact: true }).click();
    // exact: role names match substrings by default, and "Unpause…" contains "pause…"
    await page.getByRole('button', { name: 'Pause…', exact: true }).waitFor();
    const audit = (await (await fetch(`${sup.url}/api/v1/audit?pipeline=ui_demo`, { headers: { authorization: `Bearer ${writeToken}` } })).json()) as {
      entries: Array<{ actor: string; action: string }>;
    };
    expect(audit.entries.filter((e) => e.actor === 'ui-admin').map((e) => e.action)).toEqual(expect.arrayContaining(['pause', 'unpause']));
    await context.close();
  });

  it('lag and tables view, alerts view: real groups, partitions, tables, alerts, silences and deliveries', async () => {
    const { context, page } = await signIn(writeToken);
    await page.goto(`${sup.url}/#/lag`);
    await page
      .getByRole('heading', { name: new RegExp(`^Group ${group}`) })
      .waitFor({ timeout: 30_000 })
      .catch(async (err: Error) => {
        const health = (await (await fetch(`${sup.url}/api/v1/health?check=lag`, { headers: { authorization: `Bearer ${writeToken}` } })).json()) as { signals: unknown[] };
        throw new Error(
          `${err.message}\nlag signals: ${JSON.stringify(health.signals).slice(0, 1000)}\nthe view shows: ${(await page.locator('main').innerText()).slice(0, 1500)}`,
        );
      });
    const panel = page.locator('.panel', { has: page.getByRole('heading', { name: new RegExp(`^Group ${group}`) }) });
    await expect(panel.innerText()).resolves.toMatch(/7 messages/);
    await expect(panel.locator('table').innerText()).resolves.toContain(topic);
    await page.waitForFunction(() => document.querySelector('svg.spark') !== null, undefined, { timeout: 30_000 });
    await expect(page.locator('section', { has: page.getByRole('heading', { name: /Delta tables/ }) }).innerText()).resolves.toContain('ui_table');
    await shot(page, 'lag');
    await axe(page, 'lag');

    await page.goto(`${sup.url}/#/alerts`);
    await page.getByRole('heading', { name: 'Notification deliveries' }).waitFor();
    // a silence, created through the dialog (a write through the session: CSRF header)
    await page.getByRole('button', { name: 'New silence…' }).click();
    const dialog = page.getByRole('dialog', { name: 'New silence' });
    await dialog.getByLabel(/Matchers/).fill('alertname=ui_table_stale');
    await dialog.getByLabel('Comment').fill('web UI e2e');
    await dialog.getByRole('button', { name: 'Create silence' }).click();
    await page.locator('table', { hasText: 'alertname=ui_table_stale' }).waitFor();
    await shot(page, 'alerts');
    await axe(page, 'alerts');
    await context.close();
  });

  it('a read-only session sees no action controls and its forged writes get 403; writes need the CSRF token; sign-out ends the session', async () => {
    const { context, page } = await signIn(readToken);
    await expect(page.locator('#who').innerText()).resolves.toContain('(read-only)');
    await page.goto(`${sup.url}/#/pipeline/ui_demo`);
    await page.getByRole('heading', { name: 'Grid' }).waitFor();
    expect(await page.getByRole('button', { name: /Trigger|Backfill|Pause/ }).count()).toBe(0);
    await page.getByText('Read-only session: no actions.').waitFor();
    const forged = await page.evaluate(async () => {
      const s = (await (await fetch('/ui/session')).json()) as { csrf: string };
      const r = await fetch('/api/v1/pipelines/ui_demo/trigger', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrf }, body: '{}' });
      return { status: r.status, body: (await r.json()) as { code: string } };
    });
    expect(forged).toMatchObject({ status: 403, body: { code: 'SUP_ERR_FORBIDDEN' } });
    await page.goto(`${sup.url}/#/alerts`);
    await page.getByRole('heading', { name: /Silences/ }).waitFor();
    expect(await page.getByRole('button', { name: /New silence|Expire|Extend/ }).count()).toBe(0);
    await context.close();

    // a write session without its CSRF token: 403 (the cookie alone never writes)
    const w = await signIn(writeToken);
    const noCsrf = await w.page.evaluate(
      async () => (await fetch('/api/v1/pipelines/ui_demo/trigger', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status,
    );
    expect(noCsrf).toBe(403);
    const cookie = (await w.context.cookies()).find((c) => c.name === 'sup_session')!;
    await w.page.getByRole('button', { name: 'Sign out' }).click();
    await w.page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const after = await fetch(`${sup.url}/api/v1/pipelines`, { headers: { cookie: `sup_session=${cookie.value}` } });
    expect(after.status).toBe(401);
    await shot(w.page, 'sign-in');
    await axe(w.page, 'sign-in');
    await w.context.close();
    expect(endpoints.kafkaBrokers.length).toBeGreaterThan(0);
  });
});

/**
 * Issue 13 item 1, against the real daemon (bin/supervisor.js start): the silence that froze the
 * daemon for ever (`~(.*.*)*x`, catastrophic backtracking in a JS RegExp) is accepted and
 * evaluated on the linear-time engine; /healthz keeps answering, a failed run still fires and
 * is silenced, the freeze does not survive a restart, SIGTERM stops it; a regex RE2 cannot run is
 * a 400 naming the field and stores nothing; the CLI sees and expires silences while it runs.
 */
import * as path from 'node:path';
import { cli, createToken, ensureBuilt, freePort, startSupervisor, tempDir, waitFor, writeConfig, type SupervisorProcess } from '../../helpers/e2e-supervisor';

/** A hang detector, not a speed assertion: a frozen event loop never answers. */
const HANG_GUARD_MS = 5_000;

async function healthz(url: string): Promise<number> {
  return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(HANG_GUARD_MS) })).status;
}

describe('a silence with a catastrophic regex (real daemon)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let daemon: SupervisorProcess | undefined;
  beforeAll(() => ensureBuilt(), 240_000);
  beforeEach(() => {
    tmp = tempDir('sup-silence-regex-');
  });
  afterEach(async () => {
    await daemon?.stop(2_000);
    daemon = undefined;
    tmp.cleanup();
  });

  it('is accepted and evaluated in linear time; health, alerting, restart and SIGTERM keep working', async () => {
    const port = await freePort();
    const config = writeConfig(tmp.dir, {
      server: { port },
      store: { path: path.join(tmp.dir, 'state.db') },
      logging: { format: 'json', level: 'info' },
      pipelines: {
        always_fails: {
          schedule: '0 3 * * *',
          tasks: [{ id: 'boom', operator: 'command', params: { command: [process.execPath, '-e', 'process.exit(3)'] } }],
        },
      },
      alerts: { sinks: { log: { type: 'log' } }, route: { sinks: ['log'] } },
    });
    const token = await createToken(config, 'silence-test');
    const api = (p: string, init: RequestInit = {}) =>
      fetch(`${daemon!.url}/api/v1${p}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
        signal: AbortSignal.timeout(HANG_GUARD_MS),
      });
    daemon = await startSupervisor(config, port);

    // the payload of the report
    const created = await api('/silences', { method: 'POST', body: JSON.stringify({ matchers: { alertname: '~(.*.*)*x' }, duration: '1h', comment: 'x' }) });
    expect(created.status).toBe(201);
    const frozenBefore = (await created.json()) as { id: string };
    // a second one of the same shape that matches the alert below (its name ends in "d")
    const matching = await api('/silences', {
      method: 'POST',
      body: JSON.stringify({ matchers: { alertname: '~(.*.*)*d', pipeline: '~(a|aa)*lways_fails' }, duration: '1h', comment: 'muted' }),
    });
    expect(matching.status).toBe(201);
    const mutedBy = ((await matching.json()) as { id: string }).id;
    expect(await healthz(daemon.url)).toBe(200);

    // RE2 cannot run a look-ahead: 400 naming the field, nothing stored
    const refused = await api('/silences', { method: 'POST', body: JSON.stringify({ matchers: { alertname: '~(?=x).*' }, duration: '1h', comment: 'x' }) });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(/matchers\.alertname: invalid regular expression/);
    const tooLong = await api('/silences', { method: 'POST', body: JSON.stringify({ matchers: { check: `~${'a'.repeat(501)}` }, duration: '1h', comment: 'x' }) });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { message: string }).message).toMatch(/matchers\.check: .*(at most 500|more than 501 characters)/);
    const stored = (await (await api('/silences')).json()) as { silences: Array<{ id: string }> };
    expect(stored.silences.map((s) => s.id).sort()).toEqual([frozenBefore.id, mutedBy].sort());

    // evaluation proceeds: a failed run fires pipeline_run_failed, silenced by the matching silence only
    const trigger = await api('/pipelines/always_fails/trigger', { method: 'POST', body: JSON.stringify({ logical_date: '2025-10-05' }) });
    expect(trigger.status).toBe(201);
    const alert = await waitFor(
      'pipeline_run_failed to fire',
      async () => {
        const body = (await (await api('/alerts?state=firing')).json()) as { alerts: Array<{ rule: string; silencedBy: string[] }> };
        return body.alerts.find((a) => a.rule === 'pipeline_run_failed');
      },
      { timeoutMs: 30_000, diagnose: () => daemon!.tail() },
    );
    expect(alert.silencedBy).toEqual([mutedBy]);
    expect(await healthz(daemon.url)).toBe(200);

    // the CLI works on the store while the daemon runs
    const listed = await cli(config, ['--json', 'silences', 'list']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as Array<{ id: string }>).map((s) => s.id).sort()).toEqual([frozenBefore.id, mutedBy].sort());

    // SIGTERM wins
    expect(await daemon.stop(10_000)).toEqual({ code: 0, signal: null });

    // the silences survive the restart and no longer freeze it
    daemon = await startSupervisor(config, port);
    expect(await healthz(daemon.url)).toBe(200);
    const restored = (await (await api('/alerts')).json()) as { alerts: Array<{ rule: string; silencedBy: string[] }> };
    expect(restored.alerts.find((a) => a.rule === 'pipeline_run_failed')?.silencedBy).toEqual([mutedBy]);

    // expired from the CLI: the running daemon un-silences the alert within its refresh period
    expect(await cli(config, ['silences', 'expire', mutedBy])).toMatchObject({ code: 0 });
    await waitFor(
      'the daemon to see the expired silence',
      async () => {
        const body = (await (await api('/alerts?state=firing')).json()) as { alerts: Array<{ rule: string; silencedBy: string[] }> };
        return body.alerts.find((a) => a.rule === 'pipeline_run_failed' && a.silencedBy.length === 0);
      },
      { timeoutMs: 30_000, diagnose: () => daemon!.tail() },
    );
    expect(await daemon.stop(10_000)).toEqual({ code: 0, signal: null });
  });
});

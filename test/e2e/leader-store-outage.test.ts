/**
 * E2E (issue 19 drill): stop PostgreSQL for 30 s, then start it again, under two replicas.
 *
 * A private PostgreSQL cluster (Debian's binaries, as stack/services/postgres.ts runs them: its
 * own data folder under a temp dir, its own loopback port, TCP only, trust logins on loopback)
 * so the shared stack's server is never stopped. A webhook that refuses (503) keeps a
 * PipelineDeadlineMissed notification pending in the outbox across the outage.
 *
 * - during the outage both replicas answer /readyz 503 with the store's reason, and /metrics 200;
 * - after it: both ready again, one leads, scheduling resumes with every tick once (the gap's
 *   ticks fired late by the leader), and the notification enqueued before the stop is delivered
 *   once, its dedup key intact.
 */
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PrivateCluster } from '../helpers/private-postgres';
import { e2eConfig, ensureBuilt, freePort, sleep, startSupervisor, tempDir, waitFor, writeConfig, type SupervisorProcess } from '../helpers/e2e-supervisor';

/** A webhook that answers 503 until told otherwise; records the requests it accepted. */
class FlakyWebhook {
  accepting = false;
  readonly accepted: string[] = [];
  refused = 0;
  url = '';
  private readonly server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = String(req.headers['x-supervisor-dedup-key'] ?? '');
      if (this.accepting) this.accepted.push(key);
      else this.refused += 1;
      res.statusCode = this.accepting ? 200 : 503;
      res.end();
    });
  });

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Readyz {
  status: string;
  components: Record<string, true | string>;
  leader?: { self: boolean; holder: string | null; epoch: number | null };
}

async function readyz(p: SupervisorProcess): Promise<{ code: number; body: Readyz } | undefined> {
  const res = await fetch(`${p.url}/readyz`).catch(() => undefined);
  return res ? { code: res.status, body: (await res.json()) as Readyz } : undefined;
}

describe('stop PostgreSQL for 30 s under two replicas (private cluster)', () => {
  const tmp = tempDir('e2e-pg-outage-');
  const hook = new FlakyWebhook();
  const replicas: SupervisorProcess[] = [];
  let cluster: PrivateCluster;

  beforeAll(async () => {
    ensureBuilt();
    // the server's user must reach its folder (mkdtemp makes it 0700, root's)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-private-pg-'));
    fs.chmodSync(dir, 0o755);
    cluster = new PrivateCluster(dir, await freePort());
    cluster.init();
    await cluster.start();
    await hook.listen();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(replicas.map((p) => p.stop()));
    await hook.close();
    await cluster?.stop();
    if (cluster) fs.rmSync(cluster.dir, { recursive: true, force: true });
    tmp.cleanup();
  });

  async function startReplica(i: number): Promise<SupervisorProcess> {
    const port = await freePort();
    const dir = path.join(tmp.dir, `replica-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    const config = e2eConfig({
      port,
      hookUrl: hook.url,
      mailTo: 'unused@example.test',
      pipelines: {
        tick: { schedule: '*/3 * * * * *', catchup: false, overlap: 'queue', tasks: [{ id: 'work', operator: 'command', params: { command: ['true'] } }] },
        // never in time: pages PipelineDeadlineMissed
        late: { schedule: '*/30 * * * * *', catchup: false, deadline: { after: '1s' }, tasks: [{ id: 'work', operator: 'command', params: { command: ['sleep', '20'] } }] },
      },
    });
    config.store = { url: `postgres://postgres@127.0.0.1:${cluster.port}/postgres`, timeout: '2s' };
    const alerts = config.alerts as { sinks: Record<string, unknown>; route: { sinks: string[] } };
    delete alerts.sinks.mail;
    alerts.route.sinks = ['hook'];
    const p = await startSupervisor(writeConfig(dir, config), port, { env: { PGPASSWORD: '' } });
    replicas.push(p);
    return p;
  }

  const diagnose = (): string => `webhook accepted ${hook.accepted.join(', ') || 'nothing'}, refused ${hook.refused}\n${replicas.map((p) => p.tail(25)).join('\n')}`;

  it('replicas report not ready with the reason and keep serving /metrics; afterwards scheduling resumes and the pending page is delivered once', async () => {
    await startReplica(0);
    await startReplica(1);
    // a page waits in the outbox: the webhook refuses it
    await waitFor(
      'a PipelineDeadlineMissed notification pending after a refused attempt',
      async () =>
        (await cluster.query<{ n: string }>(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending' AND attempts > 0 AND dedup_key LIKE '%PipelineDeadlineMissed%'`))[0]!.n !==
        '0',
      { timeoutMs: 60_000, diagnose },
    );
    const pendingKeys = (await cluster.query<{ dedup_key: string }>(`SELECT dedup_key FROM outbox WHERE state = 'pending' AND dedup_key LIKE '%PipelineDeadlineMissed%'`)).map(
      (r) => r.dedup_key,
    );
    const ticksBefore = await cluster.query<{ logical_date: string }>(`SELECT logical_date FROM runs WHERE pipeline = 'tick'`);
    expect(ticksBefore.length).toBeGreaterThan(0);

    const stoppedAt = Date.now();
    await cluster.stop();
    // both replicas: not ready, with the reason; /metrics still answers
    for (const p of replicas) {
      const r = await waitFor(
        `replica ${p.pid} to report the store unavailable`,
        async () => {
          const x = await readyz(p);
          return x && x.code === 503 ? x : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 250, diagnose },
      );
      expect(typeof r.body.components.store).toBe('string');
      expect(String(r.body.components.store)).toMatch(/unavailable|connect|ECONNREFUSED|timed out/i);
      const metrics = await fetch(`${p.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^supervisor_leader\{/m);
    }
    await sleep(Math.max(0, stoppedAt + 30_000 - Date.now()));
    // still serving /metrics at the end of the outage
    for (const p of replicas) expect((await fetch(`${p.url}/metrics`)).status).toBe(200);

    await cluster.start();
    const restartedAt = Date.now();
    hook.accepting = true;
    for (const p of replicas) await waitFor(`replica ${p.pid} ready again`, async () => (await readyz(p))?.code === 200, { timeoutMs: 60_000, diagnose });
    await waitFor(
      'a leader',
      async () => {
        for (const p of replicas) if ((await readyz(p))?.body.leader?.self) return true;
        return false;
      },
      { timeoutMs: 30_000, diagnose },
    );

    // the page enqueued before the stop: delivered, once, dedup key intact
    for (const key of pendingKeys) await waitFor(`the pending page ${key} delivered`, () => hook.accepted.includes(key), { timeoutMs: 120_000, diagnose });
    // scheduling resumed: new ticks succeed after the restart; every tick from the first on has one run
    await waitFor(
      'tick runs after the restart',
      async () => {
        const rows = await cluster.query<{ n: string }>(`SELECT COUNT(*) AS n FROM runs WHERE pipeline = 'tick' AND state = 'success' AND queued_at > ${restartedAt}`);
        return Number(rows[0]!.n) >= 2;
      },
      { timeoutMs: 60_000, diagnose },
    );
    await sleep(3_000);
    for (const key of pendingKeys) expect(hook.accepted.filter((k) => k === key)).toHaveLength(1);
    const dates = (await cluster.query<{ logical_date: string }>(`SELECT logical_date FROM runs WHERE pipeline = 'tick' AND rerun = 0 ORDER BY logical_date`)).map((r) =>
      Number(r.logical_date),
    );
    expect(new Set(dates).size).toBe(dates.length);
    for (let i = 1; i < dates.length; i++) expect(dates[i]! - dates[i - 1]!).toBe(3_000);
    const delivered = await cluster.query<{ dedup_key: string; state: string }>(
      `SELECT dedup_key, state FROM outbox WHERE dedup_key IN (${pendingKeys.map((k) => `'${k.replace(/'/g, "''")}'`).join(', ')})`,
    );
    expect(delivered.every((r) => r.state === 'delivered')).toBe(true);
  }, 300_000);
});

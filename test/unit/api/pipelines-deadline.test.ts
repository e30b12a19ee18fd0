/**
 * GET /api/v1/pipelines carries each pipeline's deadline and where it stands, read from the
 * schedule monitor's latest signal (what the web UI's overview shows), and the stored pause.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDaemon, type Daemon } from '../../../src/daemon';
import { silentLogger } from '../../../src/shared/logger';
import { createTokenStore } from '../../../src/store/tokens';

const CONFIG = `
server: { port: 0 }
store: { path: state.db }
pipelines:
  hourly:
    schedule: "0 * * * *"
    deadline: { after: 45m }
    tasks:
      - { id: a, operator: command, params: { command: ["true"] } }
  manual:
    tasks:
      - { id: a, operator: command, params: { command: ["true"] } }
alerts:
  sinks: { log: { type: log } }
  route: { sinks: [log] }
`;

describe('/api/v1/pipelines: deadline and paused', () => {
  let daemon: Daemon;
  let dir: string;
  let headers: { authorization: string };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-pipelines-deadline-'));
    fs.writeFileSync(path.join(dir, 'supervisor.yaml'), CONFIG);
    daemon = await createDaemon({ configFile: path.join(dir, 'supervisor.yaml'), env: {}, logger: silentLogger, port: 0 });
    await daemon.start();
    headers = { authorization: `Bearer ${createTokenStore(daemon.db).create('writer', false).token}` };
  });
  afterAll(async () => {
    await daemon.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  type Listed = { id: string; paused: boolean; deadline: null | { after: string; from: string; state: string; summary: string | null } };
  const list = async (): Promise<Listed[]> => (await daemon.app.inject({ method: 'GET', url: '/api/v1/pipelines', headers })).json<{ pipelines: Listed[] }>().pipelines;

  it('a pipeline with a deadline shows it with the monitor’s verdict; one without shows null', async () => {
    const signal = daemon.signals().find((s) => s.kind === 'pipeline_deadline' && s.target === 'hourly');
    const [hourly, manual] = await list();
    expect(manual!.deadline).toBeNull();
    expect(hourly!.deadline).toMatchObject({ after: '45m', from: 'logical_date' });
    // the first evaluation happened at the checks' start: its verdict, or unknown before it
    expect(hourly!.deadline!.state).toBe(signal ? (signal.status === 'crit' ? 'missed' : 'met') : 'unknown');
  });

  it('pausing through the API answers who and why, and shows in the list', async () => {
    const res = await daemon.app.inject({ method: 'POST', url: '/api/v1/pipelines/hourly/pause', headers, payload: { reason: 'maintenance' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ pipeline: 'hourly', paused: true, changed: true, by: 'writer', reason: 'maintenance' });
    expect((await list())[0]!.paused).toBe(true);
  });
});

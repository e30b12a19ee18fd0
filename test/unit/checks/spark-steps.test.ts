/** The Spark probe's steps: master status and workers, applications, summary. */
import { judgeApps, judgeMaster, parseSparkOptions, sparkSummary, type SparkVerdict } from '../../../checks/spark';
import type { SparkFacts } from '../../../src/protocol';

const NOW = Date.parse('2025-10-05T00:10:00Z');
const BASE = 'http://spark:8080';

function facts(expectedWorkers = 2): SparkFacts {
  return { kind: 'spark', masterStatus: null, aliveWorkers: 0, expectedWorkers, apps: [], expectedApps: [] };
}
const verdict = (): SparkVerdict => ({ statuses: [], problems: [] });
const app = (name: string, state: string) => ({ id: `app-${name}`, name, state, starttime: NOW - 65_000 });

describe('spark steps', () => {
  it('judgeMaster: an ALIVE master with all workers and a running app is ok, facts filled', () => {
    const options = parseSparkOptions('spark', { masterUrl: 'spark://spark:7077', expectedWorkers: 2 });
    const f = facts();
    const v = verdict();
    judgeMaster({ status: 'ALIVE', workers: [{ state: 'ALIVE' }, { state: 'ALIVE' }], activeapps: [app('job', 'RUNNING')] } as never, options, NOW, f, v);
    expect(v).toEqual({ statuses: ['ok'], problems: [] });
    expect(f).toMatchObject({ masterStatus: 'ALIVE', aliveWorkers: 2, apps: [{ id: 'app-job', name: 'job', state: 'RUNNING', durationSeconds: 65 }] });
    expect(sparkSummary({ status: 'ALIVE' } as never, BASE, 2, f, v.problems)).toBe('master ALIVE, 2/2 workers, job RUNNING 1m5s');
  });

  it('judgeMaster: a STANDBY master warns, missing workers are named', () => {
    const options = parseSparkOptions('spark', { masterUrl: 'spark://spark:7077', expectedWorkers: 2 });
    const f = facts();
    const v = verdict();
    judgeMaster({ status: 'STANDBY', aliveworkers: 0, workers: [], activeapps: [] }, options, NOW, f, v);
    expect(v.statuses).toEqual(['warn', 'crit', 'warn']);
    expect(v.problems).toEqual(['master is STANDBY', '0/2 workers alive', 'no active application']);
  });

  it('judgeApps: an expected app that is not RUNNING is crit', () => {
    const f = { ...facts(), apps: [{ id: 'a1', name: 'job', state: 'WAITING', durationSeconds: 1 }] };
    const v = verdict();
    judgeApps({ apps: ['job', 'other'], noAppsStatus: 'warn' }, f, v);
    expect(v).toEqual({ statuses: ['crit', 'crit'], problems: ['app "job" is WAITING', 'app "other" is not running'] });
    expect(f.expectedApps).toEqual([
      { name: 'job', running: false },
      { name: 'other', running: false },
    ]);
  });

  it('sparkSummary: problems first; without a master only the problems', () => {
    expect(sparkSummary(null, BASE, 1, facts(1), ['master http://spark:8080 refused the connection'])).toBe('master http://spark:8080 refused the connection');
    expect(sparkSummary(null, BASE, 1, facts(1), [])).toBe('master http://spark:8080 unavailable');
  });
});

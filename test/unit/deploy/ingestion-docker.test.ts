/**
 * The docker execution mode's command line (planIngestion): the same ingestion arguments as the
 * subprocess mode, the CLI's global arguments before `run`, labels for crash recovery, the
 * sources folder and TLS files mounted read-only, environment passed by name only. The container
 * itself runs against real podman in test/integration/deploy/container.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { containerName, LABELS } from '../../../src/engine/operators/container';
import { planIngestion } from '../../../src/engine/operators/ingestion';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-docker-'));
const sources = path.join(dir, 'sources.yaml');
const caFile = path.join(dir, 'ca.pem');
fs.writeFileSync(sources, 'topic: t\nsources:\n  alpha: {format: domains, path: a.txt, category: x}\n  beta: {format: domains, path: b.txt, category: x}\n');
fs.writeFileSync(caFile, 'not a real CA');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ctx = (params: Record<string, unknown>, tryNumber = 2) => ({
  params: { config_path: 'sources.yaml', kafka_servers: '127.0.0.1:9092', source_name: 'alpha', ...params },
  conf: {},
  configDir: dir,
  runId: 'manual__2025-03-01T00:00:00+00:00',
  logicalDate: Date.parse('2025-03-01T00:00:00Z'),
  pipeline: 'domain_ingestion',
  taskId: 'run_full_ingestion',
  tryNumber,
});

describe('planIngestion, execution_mode: docker', () => {
  it('builds `<cli> <global args> run --rm` with labels, mounts, env by name and the subprocess mode’s arguments', () => {
    const kafkaEnv = { KAFKA_SASL_PASSWORD: 'sasl-s3cret', KAFKA_SSL_CA_FILE: caFile };
    const docker = planIngestion(
      ctx({
        execution_mode: 'docker',
        docker_binary: 'podman',
        docker_global_args: ['--runtime', 'runc', '--cgroup-manager=cgroupfs'],
        image: 'localhost/domain-ingestion:latest',
        docker_args: ['--memory', '256m'],
        env: { LOG_LEVEL: 'debug' },
      }),
      '/repo',
      kafkaEnv,
    );
    const sub = planIngestion(ctx({ env: { LOG_LEVEL: 'debug' } }), '/repo', kafkaEnv);
    const argv = docker.argv;
    expect(argv.slice(0, 6)).toEqual(['podman', '--runtime', 'runc', '--cgroup-manager=cgroupfs', 'run', '--rm']);
    const name = containerName('domain_ingestion', 'run_full_ingestion', 'manual__2025-03-01T00:00:00+00:00', 2);
    expect(argv[argv.indexOf('--name') + 1]).toBe(name);
    expect(name).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]*-try2$/);
    expect(docker.container).toEqual({ cli: ['podman', '--runtime', 'runc', '--cgroup-manager=cgroupfs'], name, image: 'localhost/domain-ingestion:latest' });
    const labels = argv.flatMap((a, i) => (argv[i - 1] === '--label' ? [a] : []));
    expect(labels).toEqual(
      expect.arrayContaining([
        `${LABELS.managed}=true`,
        `${LABELS.run}=manual__2025-03-01T00:00:00+00:00`,
        `${LABELS.task}=run_full_ingestion`,
        `${LABELS.try}=2`,
        `${LABELS.ownerPid}=${process.pid}`,
        `${LABELS.ownerHost}=${os.hostname()}`,
      ]),
    );
    expect(argv[argv.indexOf('--network') + 1]).toBe('host');
    // the container reads what the subprocess would: the supervisor's own uid:gid
    expect(argv[argv.indexOf('--user') + 1]).toBe(`${process.getuid!()}:${process.getgid!()}`);
    const mounts = argv.flatMap((a, i) => (argv[i - 1] === '-v' ? [a] : []));
    expect(mounts).toEqual([`${dir}:/config:ro`, `${caFile}:${caFile}:ro`]);
    const envNames = argv.flatMap((a, i) => (argv[i - 1] === '-e' ? [a] : []));
    expect(envNames.sort()).toEqual(
      ['KAFKA_SASL_PASSWORD', 'KAFKA_SSL_CA_FILE', 'LOG_LEVEL', 'SUPERVISOR_LOGICAL_DATE', 'SUPERVISOR_RUN_ID', 'SUPERVISOR_TASK_ID', 'SUPERVISOR_TRY_NUMBER'].sort(),
    );
    // a secret value never on the command line, only in the CLI's environment
    expect(argv.join(' ')).not.toContain('sasl-s3cret');
    expect(docker.env.KAFKA_SASL_PASSWORD).toBe('sasl-s3cret');
    // docker_args before the image; after it, the subprocess mode's arguments with the in-container sources path
    const imageAt = argv.indexOf('localhost/domain-ingestion:latest');
    expect(argv.slice(imageAt - 2, imageAt)).toEqual(['--memory', '256m']);
    const subArgs = sub.argv.slice(sub.argv.indexOf('--config'));
    expect(argv.slice(imageAt + 1)).toEqual(subArgs.map((a) => (a === sources ? '/config/sources.yaml' : a)));
    expect(sub.container).toBeUndefined();
  });

  it('defaults: docker, domain-ingestion:latest, no global arguments, try 1', () => {
    const plan = planIngestion({ ...ctx({ execution_mode: 'docker' }), tryNumber: undefined }, '/repo');
    expect(plan.argv.slice(0, 3)).toEqual(['docker', 'run', '--rm']);
    expect(plan.argv).toContain('domain-ingestion:latest');
    expect(plan.container?.name).toMatch(/-try1$/);
    // docker_user "" keeps the image's own user
    expect(planIngestion(ctx({ execution_mode: 'docker', docker_user: '' }), '/repo').argv).not.toContain('--user');
    expect(planIngestion(ctx({ execution_mode: 'docker', docker_user: '10001:10001' }), '/repo').argv).toContain('10001:10001');
  });

  it('bad docker params are configuration errors naming the param', () => {
    expect(() => planIngestion(ctx({ execution_mode: 'docker', docker_binary: ' ' }), '/repo')).toThrow(/docker_binary.*empty/);
    expect(() => planIngestion(ctx({ execution_mode: 'docker', docker_global_args: '--runtime runc' }), '/repo')).toThrow(/"docker_global_args" must be a non-empty list/);
    expect(() => planIngestion(ctx({ execution_mode: 'container' }), '/repo')).toThrow(/execution_mode must be "subprocess" or "docker"/);
  });
});

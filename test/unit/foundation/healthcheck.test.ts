/**
 * The container image's HEALTHCHECK (bin/healthcheck.cjs): which /healthz it probes for the
 * command the container runs (PID 1's command line). The image itself runs it in
 * test/integration/deploy/container.test.ts.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS script of bin/, loaded as the image runs it
const { healthUrl } = require('../../../bin/healthcheck.cjs') as { healthUrl: (cmdline: string[], env: Record<string, string | undefined>) => string | null };

const launcher = ['node', '/app/bin/supervisor.js'];

describe('healthcheck: the URL it probes', () => {
  it.each<[string, string[], Record<string, string>, string | null]>([
    ['the daemon on the image’s port', [...launcher, 'start'], {}, 'http://127.0.0.1:8090/healthz'],
    ['the daemon on SUPERVISOR_PORT', [...launcher, 'start'], { SUPERVISOR_PORT: '9000' }, 'http://127.0.0.1:9000/healthz'],
    ['the daemon, with a global --config before the command', [...launcher, '--config', '/etc/s/worker.yaml', 'start'], {}, 'http://127.0.0.1:8090/healthz'],
    ['a worker on a wildcard address', [...launcher, 'worker', '--listen', '0.0.0.0:9464'], { SUPERVISOR_PORT: '8090' }, 'http://127.0.0.1:9464/healthz'],
    ['a worker with --listen=', [...launcher, '-c', 'w.yaml', 'worker', '--concurrency', '4', '--listen=127.0.0.5:9464'], {}, 'http://127.0.0.5:9464/healthz'],
    ['a worker on a bare port', ['node', 'bin/supervisor.js', 'worker', '--listen', '9464'], {}, 'http://127.0.0.1:9464/healthz'],
    ['a worker on IPv6', [...launcher, 'worker', '--listen', '[::1]:9464'], {}, 'http://[::1]:9464/healthz'],
    ['a worker on the IPv6 wildcard', [...launcher, 'worker', '--listen', '[::]:9464'], {}, 'http://127.0.0.1:9464/healthz'],
    ['a worker without an endpoint: nothing to probe', [...launcher, 'worker', '--concurrency', '2'], {}, null],
    ['SUPERVISOR_HEALTH_URL over everything', [...launcher, 'worker'], { SUPERVISOR_HEALTH_URL: 'http://127.0.0.1:1/healthz' }, 'http://127.0.0.1:1/healthz'],
  ])('%s', (_what, cmdline, env, expected) => {
    expect(healthUrl(cmdline, env)).toBe(expected);
  });
});

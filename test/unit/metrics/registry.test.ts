import { createMetricsRegistry } from '../../../src/metrics/registry';

describe('metrics registry (src/metrics/registry.ts)', () => {
  it('carries build info, and process metrics unless turned off', async () => {
    const plain = await createMetricsRegistry({ version: '1.2.3', processMetrics: false }).metrics();
    expect(plain).toBe(
      [
        '# HELP supervisor_build_info Always 1; labels tell the supervisor version and Node.js version.',
        '# TYPE supervisor_build_info gauge',
        `supervisor_build_info{version="1.2.3",nodejs="${process.versions.node}"} 1`,
        '',
      ].join('\n'),
    );
    const withProcess = await createMetricsRegistry({ version: '1.2.3' }).metrics();
    expect(withProcess).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(withProcess).toContain('# TYPE nodejs_heap_size_used_bytes gauge');
  });
});

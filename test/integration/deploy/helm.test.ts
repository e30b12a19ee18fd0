/**
 * The Helm chart (deploy/helm/pipeline-supervisor) through the real helm (built by
 * stack/container-helm.ts): `helm lint`, and `helm template` with assertions on the rendered
 * manifests — probes, non-root, read-only root filesystem, secrets never inlined, and each values
 * switch doing what it says; the task workers' Deployment and PodMonitor; renders refused with a
 * clear message (several replicas or workers on SQLite, a password in store.url). No Kubernetes
 * API server exists here: rendering is what is tested.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, readStoreSettings } from '../../../src/config/load';
import { ensureHelm } from '../../../stack/container-helm';

const ROOT = path.resolve(__dirname, '../../..');
const CHART = path.join(ROOT, 'deploy/helm/pipeline-supervisor');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface Container {
  name: string;
  args?: string[];
  ports?: { name: string; containerPort: number }[];
  resources?: Record<string, unknown>;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  securityContext?: { readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  volumes?: { name: string; emptyDir?: object; secret?: { secretName: string }; configMap?: { name: string } }[];
}

let helm = '';

function exec(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(helm, args, { maxBuffer: 32 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function templateArgs(set: Record<string, string>, values?: unknown): string[] {
  const args = ['template', 'rel', CHART, '--namespace', 'pipelines'];
  for (const [k, v] of Object.entries(set)) args.push('--set', `${k}=${v}`);
  if (values !== undefined) {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'helm-values-')), 'values.yaml');
    fs.writeFileSync(file, JSON.stringify(values));
    args.push('-f', file);
  }
  return args;
}

/** `helm template` that must fail: its exit code and the error line. */
async function refused(set: Record<string, string>): Promise<{ code: number; error: string }> {
  const r = await exec(templateArgs(set));
  return { code: r.code, error: r.stderr.split('\n').find((l) => l.startsWith('Error: ')) ?? r.stderr };
}

/** `helm template` with --set-string/--set values (or a values file), parsed into manifests. */
async function render(set: Record<string, string> = {}, values?: unknown): Promise<Manifest[]> {
  const r = await exec(templateArgs(set, values));
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const of = (ms: Manifest[], kind: string): Manifest[] => ms.filter((m) => m.kind === kind);
function one(ms: Manifest[], kind: string): Manifest {
  const found = of(ms, kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, got ${found.length}: ${ms.map((m) => m.kind).join(', ')}`);
  return found[0]!;
}
const isWorker = (m: Manifest): boolean => m.metadata.labels?.['app.kubernetes.io/component'] === 'worker';
/** The supervisor's pod (never the workers'). */
function podOf(ms: Manifest[]): PodSpec {
  const workload = ms.find((m) => (m.kind === 'StatefulSet' || m.kind === 'Deployment') && !isWorker(m));
  if (!workload) throw new Error('no workload rendered');
  return (workload.spec as { template: { spec: PodSpec } }).template.spec;
}
function configOf(ms: Manifest[]): Record<string, unknown> {
  const cm = of(ms, 'ConfigMap').find((m) => m.data?.['supervisor.yaml'] !== undefined);
  if (!cm) throw new Error('no config ConfigMap');
  return parse(cm.data!['supervisor.yaml']!) as Record<string, unknown>;
}
/** Every place a value could be inlined: ConfigMap data, literal env values, container args, pod metadata (every workload, the workers' too). */
function inlinedText(ms: Manifest[]): string {
  const parts: string[] = [];
  for (const m of of(ms, 'ConfigMap')) parts.push(...Object.values(m.data ?? {}));
  for (const m of ms.filter((x) => x.kind === 'StatefulSet' || x.kind === 'Deployment')) {
    const template = (m.spec as { template: { metadata: unknown; spec: PodSpec } }).template;
    for (const c of template.spec.containers) {
      for (const e of c.env ?? []) if (e.value !== undefined) parts.push(e.value);
      parts.push(...(c.args ?? []));
    }
    parts.push(JSON.stringify(template.metadata));
  }
  return parts.join('\n');
}

beforeAll(async () => {
  helm = await ensureHelm();
}, 30 * 60_000);

describe('Helm chart deploy/helm/pipeline-supervisor', () => {
  it('lints clean (strict)', async () => {
    const r = await exec(['lint', '--strict', CHART]);
    expect(r.stderr + r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  it('default values: a StatefulSet with a PVC for SQLite, probes on /healthz and /readyz, non-root with a read-only root filesystem', async () => {
    const ms = await render();
    expect(of(ms, 'Deployment')).toHaveLength(0);
    const sts = one(ms, 'StatefulSet');
    const spec = sts.spec as { replicas: number; volumeClaimTemplates: { metadata: { name: string }; spec: { resources: { requests: { storage: string } } } }[] };
    expect(spec.replicas).toBe(1);
    expect(spec.volumeClaimTemplates.map((v) => v.metadata.name)).toEqual(['data']);
    expect(spec.volumeClaimTemplates[0]!.spec.resources.requests.storage).toBe('1Gi');
    const pod = podOf(ms);
    const c = pod.containers[0]!;
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).toBe(10001);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // writable places only: the state volume and an emptyDir for /tmp
    expect(c.volumeMounts?.map((m) => m.mountPath).sort()).toEqual(['/etc/supervisor/supervisor.yaml', '/tmp', '/var/lib/supervisor']);
    expect(pod.volumes?.find((v) => v.name === 'tmp')?.emptyDir).toBeDefined();
    // the store on the PVC, the server on every interface of the pod
    expect(configOf(ms)).toMatchObject({ server: { host: '0.0.0.0', port: 8090 }, store: { path: '/var/lib/supervisor/supervisor.db' } });
    expect(of(ms, 'ServiceMonitor')).toHaveLength(0);
    expect(of(ms, 'PrometheusRule')).toHaveLength(0);
    expect(of(ms, 'Secret')).toHaveLength(0);
  });

  it('the rendered config is one the supervisor itself loads (with the values’ config merged in)', async () => {
    const ms = await render({}, { config: { variables: { kafka_servers: 'kafka.pipelines:9092' }, logging: { level: 'warn' } } });
    const cfg = configOf(ms);
    expect(cfg).toMatchObject({ variables: { kafka_servers: 'kafka.pipelines:9092' }, logging: { level: 'warn', format: 'json' } });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-config-'));
    const file = path.join(dir, 'supervisor.yaml');
    fs.writeFileSync(file, of(ms, 'ConfigMap').find((m) => m.data?.['supervisor.yaml'])!.data!['supervisor.yaml']!);
    const loaded = loadConfig({ file, env: {} });
    expect(loaded.config.server.host).toBe('0.0.0.0');
    expect(loaded.config.store.path).toBe('/var/lib/supervisor/supervisor.db');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('store.url → a Deployment (no StatefulSet, no PVC), the URL and the password only in a Secret, referenced by secretKeyRef', async () => {
    const url = 'postgres://supervisor@db.pipelines:5432/supervisor';
    const ms = await render({ 'store.url': url, 'store.password': 'pg-Passw0rd-XYZ', replicaCount: '3' });
    expect(of(ms, 'StatefulSet')).toHaveLength(0);
    const dep = one(ms, 'Deployment');
    expect((dep.spec as { replicas: number }).replicas).toBe(3);
    expect(JSON.stringify(dep)).not.toContain('volumeClaimTemplates');
    const secret = one(ms, 'Secret');
    expect(Buffer.from(secret.data!['store-url']!, 'base64').toString()).toBe(url);
    expect(Buffer.from(secret.data!['store-password']!, 'base64').toString()).toBe('pg-Passw0rd-XYZ');
    const env = podOf(ms).containers[0]!.env!;
    expect(env.find((e) => e.name === 'SUPERVISOR_STORE_URL')).toEqual({
      name: 'SUPERVISOR_STORE_URL',
      valueFrom: { secretKeyRef: { name: secret.metadata.name, key: 'store-url' } },
    });
    // the supervisor reads PGPASSWORD when the config names no store.password(_file)
    expect(env.find((e) => e.name === 'PGPASSWORD')).toEqual({ name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: secret.metadata.name, key: 'store-password' } } });
    expect(configOf(ms).store).toEqual({ url: '${SUPERVISOR_STORE_URL}' });
    expect(inlinedText(ms)).not.toContain('pg-Passw0rd-XYZ');
    // no workers unless asked for
    expect(ms.filter(isWorker)).toHaveLength(0);
    expect(configOf(ms).executor).toBeUndefined();
  });

  it('the rendered PostgreSQL config with the Secret’s env is one the supervisor loads (URL from SUPERVISOR_STORE_URL, password from PGPASSWORD)', async () => {
    const ms = await render({ 'store.url': 'postgres://supervisor@db.pipelines:5432/supervisor', 'store.password': 'pg-Passw0rd-XYZ', 'workers.enabled': 'true' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-config-'));
    const file = path.join(dir, 'supervisor.yaml');
    fs.writeFileSync(file, of(ms, 'ConfigMap').find((m) => m.data?.['supervisor.yaml'])!.data!['supervisor.yaml']!);
    const secret = one(ms, 'Secret');
    const env = {
      SUPERVISOR_STORE_URL: Buffer.from(secret.data!['store-url']!, 'base64').toString(),
      PGPASSWORD: Buffer.from(secret.data!['store-password']!, 'base64').toString(),
    };
    expect(readStoreSettings(file, env)).toMatchObject({
      kind: 'postgres',
      host: 'db.pipelines',
      port: 5432,
      database: 'supervisor',
      user: 'supervisor',
      password: 'pg-Passw0rd-XYZ',
    });
    expect(loadConfig({ file, env }).config.executor.mode).toBe('workers');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('store.existingPasswordSecret → PGPASSWORD from that Secret’s key; no password in the chart’s Secret', async () => {
    const ms = await render({ 'store.url': 'postgres://supervisor@db:5432/s', 'store.existingPasswordSecret': 'pg-auth', 'store.existingPasswordSecretKey': 'pw' });
    const env = podOf(ms).containers[0]!.env!;
    expect(env.find((e) => e.name === 'PGPASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'pg-auth', key: 'pw' });
    expect(Object.keys(one(ms, 'Secret').data!)).toEqual(['store-url']);
  });

  it('refuses with a clear message: several replicas or workers on SQLite, a password in store.url, bad workers settings', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ replicaCount: '2' }, 'replicaCount: 2 replicas need a PostgreSQL store (set store.url or store.existingSecret): the SQLite store is one file on one pod'],
      [{ 'workers.enabled': 'true' }, 'workers.enabled: task workers need a PostgreSQL store (set store.url or store.existingSecret)'],
      [{ 'store.url': 'postgres://supervisor:s3cret@db:5432/s' }, 'store.url: holds a password; the supervisor refuses one in the URL'],
      [{ 'store.password': 'x' }, 'store.password / store.existingPasswordSecret are PostgreSQL settings'],
      [{ 'store.url': 'postgres://u@db/s', 'store.password': 'x', 'store.existingPasswordSecret': 'y' }, 'store.password and store.existingPasswordSecret are both set'],
      [{ 'store.url': 'postgres://u@db/s', 'workers.enabled': 'true', 'workers.concurrency': '0' }, 'workers.concurrency: 0 is not an integer from 1 to 1024'],
      [{ 'store.url': 'postgres://u@db/s', 'workers.enabled': 'true', 'workers.port': '70000' }, 'workers.port: 70000 is not a port'],
      [{ 'store.url': 'postgres://u@db/s', 'workers.enabled': 'true', 'workers.grace': 'soon' }, 'workers.grace: "soon" is not a duration'],
      [{ 'store.url': 'postgres://u@db/s', 'workers.enabled': 'true', 'workers.grace': '2h' }, 'workers.grace: "2h" is longer than 1h'],
      [
        { 'store.url': 'postgres://u@db/s', 'workers.enabled': 'true', 'workers.terminationGracePeriodSeconds': '40' },
        "workers.terminationGracePeriodSeconds: 40 is shorter than workers.grace plus the tries' kill grace (50 s)",
      ],
    ];
    for (const [set, message] of cases) {
      const r = await refused(set);
      expect({ set, code: r.code }).toEqual({ set, code: 1 });
      expect(r.error).toContain(message);
      // the value of a password is never echoed
      expect(r.error).not.toContain('s3cret');
    }
    // one replica on SQLite and several on PostgreSQL render
    expect(of(await render({ replicaCount: '1' }), 'StatefulSet')).toHaveLength(1);
    expect((one(await render({ replicaCount: '2', 'store.existingSecret': 'pg' }), 'Deployment').spec as { replicas: number }).replicas).toBe(2);
  });

  it('workers.enabled → a worker Deployment (same image, config, store secrets), probes on its endpoint, executor.mode workers; no Service selects it', async () => {
    const ms = await render(
      {},
      {
        store: { url: 'postgres://supervisor@db:5432/s', password: 'pg-Passw0rd-XYZ' },
        secrets: { 's3-secret-access-key': 'S3-s3cr3t-value' },
        workers: { enabled: true, replicas: 3, concurrency: 8, grace: '45s', resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '2Gi' } } },
      },
    );
    const deployments = of(ms, 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['rel-pipeline-supervisor', 'rel-pipeline-supervisor-worker']);
    const wd = deployments.find(isWorker)!;
    const spec = wd.spec as {
      replicas: number;
      selector: { matchLabels: Record<string, string> };
      template: { metadata: { labels: Record<string, string> }; spec: PodSpec & { terminationGracePeriodSeconds: number } };
    };
    expect(spec.replicas).toBe(3);
    expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);
    const pod = spec.template.spec;
    const c = pod.containers[0]!;
    const sup = podOf(ms).containers[0]!;
    expect(c.args).toEqual(['worker', '--concurrency', '8', '--grace', '45s', '--listen', '0.0.0.0:9464']);
    expect(c.ports).toEqual([expect.objectContaining({ name: 'metrics', containerPort: 9464 })]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '2Gi' } });
    expect((c as unknown as { image: string }).image).toBe((sup as unknown as { image: string }).image);
    // the store's URL and password from the same Secret keys as the supervisor's
    const storeEnv = (x: Container) => x.env!.filter((e) => e.name === 'SUPERVISOR_STORE_URL' || e.name === 'PGPASSWORD');
    expect(storeEnv(c)).toHaveLength(2);
    expect(storeEnv(c)).toEqual(storeEnv(sup));
    expect(c.env!.find((e) => e.name === 'SUPERVISOR_CONFIG')?.value).toBe('/etc/supervisor/supervisor.yaml');
    // the same config and secret files; a writable /tmp only
    expect(pod.volumes?.find((v) => v.name === 'config')?.configMap?.name).toBe('rel-pipeline-supervisor');
    expect(pod.volumes?.find((v) => v.name === 'secrets')?.secret?.secretName).toBe(one(ms, 'Secret').metadata.name);
    expect(c.volumeMounts?.map((m) => m.mountPath).sort()).toEqual(['/etc/supervisor/secrets', '/etc/supervisor/supervisor.yaml', '/tmp']);
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    // the grace plus the tries' kill grace fit in the pod's termination grace
    expect(pod.terminationGracePeriodSeconds).toBe(45 + 30);
    expect(configOf(ms).executor).toEqual({ mode: 'workers' });
    // the supervisor's Service (and its selector) match no worker pod: workers take no API traffic
    for (const svc of of(ms, 'Service')) {
      const selector = (svc.spec as { selector: Record<string, string> }).selector;
      expect(Object.entries(selector).every(([k, v]) => spec.template.metadata.labels[k] === v)).toBe(false);
    }
    const supSelector = (deployments.find((d) => !isWorker(d))!.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    expect(Object.entries(supSelector).every(([k, v]) => spec.template.metadata.labels[k] === v)).toBe(false);
    const inlined = inlinedText(ms);
    expect(inlined).not.toContain('pg-Passw0rd-XYZ');
    expect(inlined).not.toContain('S3-s3cr3t-value');
    expect(of(ms, 'PodMonitor')).toHaveLength(0);
  });

  it('workers.podMonitor.enabled → a PodMonitor scraping /metrics on the workers’ port, selecting only worker pods', async () => {
    const ms = await render({
      'store.url': 'postgres://u@db/s',
      'workers.enabled': 'true',
      'workers.podMonitor.enabled': 'true',
      'workers.podMonitor.labels.release': 'kube-prometheus',
    });
    const pm = one(ms, 'PodMonitor');
    expect(pm.metadata.labels?.release).toBe('kube-prometheus');
    const spec = pm.spec as { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string }[] };
    expect(spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    const worker = of(ms, 'Deployment').find(isWorker)!;
    expect((worker.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels).toMatchObject(spec.selector.matchLabels);
    const sup = of(ms, 'Deployment').find((d) => !isWorker(d))!;
    const supLabels = (sup.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(Object.entries(spec.selector.matchLabels).every(([k, v]) => supLabels[k] === v)).toBe(false);
    // workers.enabled=false: no PodMonitor even when asked for
    expect(of(await render({ 'store.url': 'postgres://u@db/s', 'workers.podMonitor.enabled': 'true' }), 'PodMonitor')).toHaveLength(0);
  });

  it('lints clean (strict) with workers and the PodMonitor on', async () => {
    const r = await exec(['lint', '--strict', CHART, '--set', 'store.url=postgres://u@db/s', '--set', 'workers.enabled=true', '--set', 'workers.podMonitor.enabled=true']);
    expect(r.stderr + r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  it('store.existingSecret → a Deployment reading the URL from that Secret; no Secret is created', async () => {
    const ms = await render({ 'store.existingSecret': 'pg-credentials', 'store.existingSecretKey': 'uri' });
    one(ms, 'Deployment');
    expect(of(ms, 'Secret')).toHaveLength(0);
    const env = podOf(ms).containers[0]!.env!;
    expect(env.find((e) => e.name === 'SUPERVISOR_STORE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'pg-credentials', key: 'uri' });
  });

  it('secrets go into a Secret mounted as files, never into the ConfigMap or env values; existingSecret replaces it', async () => {
    const values = { secrets: { 's3-secret-access-key': 'S3-s3cr3t-value', 'slack-webhook': 'https://hooks.example/T0/B0/xyzzy-token' } };
    const ms = await render({}, values);
    const secret = one(ms, 'Secret');
    expect(Buffer.from(secret.data!['s3-secret-access-key']!, 'base64').toString()).toBe('S3-s3cr3t-value');
    const pod = podOf(ms);
    expect(pod.volumes?.find((v) => v.name === 'secrets')?.secret?.secretName).toBe(secret.metadata.name);
    expect(pod.containers[0]!.volumeMounts?.find((m) => m.name === 'secrets')?.mountPath).toBe('/etc/supervisor/secrets');
    const inlined = inlinedText(ms);
    expect(inlined).not.toContain('S3-s3cr3t-value');
    expect(inlined).not.toContain('xyzzy-token');

    const existing = await render({ existingSecret: 'my-supervisor-secrets' }, values);
    expect(of(existing, 'Secret')).toHaveLength(0);
    expect(podOf(existing).volumes?.find((v) => v.name === 'secrets')?.secret?.secretName).toBe('my-supervisor-secrets');
    expect(inlinedText(existing)).not.toContain('S3-s3cr3t-value');
  });

  it('serviceMonitor.enabled → a ServiceMonitor scraping /metrics on the Service’s port', async () => {
    const ms = await render({ 'serviceMonitor.enabled': 'true', 'serviceMonitor.labels.release': 'kube-prometheus' });
    const sm = one(ms, 'ServiceMonitor');
    expect(sm.metadata.labels?.release).toBe('kube-prometheus');
    const spec = sm.spec as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
    expect(spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
    const svc = of(ms, 'Service').find((s) => s.metadata.name === 'rel-pipeline-supervisor')!;
    expect(svc.metadata.labels).toMatchObject(spec.selector.matchLabels);
    expect((svc.spec as { ports: { name: string }[] }).ports.map((p) => p.name)).toContain('http');
  });

  it('prometheusRule.enabled → a PrometheusRule with exactly the groups of grafana/prometheus/rules', async () => {
    expect(of(await render(), 'PrometheusRule')).toHaveLength(0);
    const ms = await render({ 'prometheusRule.enabled': 'true' });
    const rule = one(ms, 'PrometheusRule');
    const source = parse(fs.readFileSync(path.join(ROOT, 'grafana/prometheus/rules/pipeline-supervisor.rules.yml'), 'utf8')) as { groups: unknown[] };
    expect((rule.spec as { groups: unknown[] }).groups).toEqual(source.groups);
  });

  it('dashboards: a ConfigMap with the sidecar label holding the generated JSON; dashboards.enabled=false removes it', async () => {
    const ms = await render({ 'dashboards.namespace': 'monitoring' });
    const cm = of(ms, 'ConfigMap').find((m) => m.metadata.name.endsWith('-dashboards'))!;
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.metadata.namespace).toBe('monitoring');
    const generated = fs.readdirSync(path.join(ROOT, 'grafana/dashboards')).filter((f) => f.endsWith('.json'));
    expect(Object.keys(cm.data!).sort()).toEqual(generated.sort());
    for (const f of generated) {
      expect(JSON.parse(cm.data![f]!)).toEqual(JSON.parse(fs.readFileSync(path.join(ROOT, 'grafana/dashboards', f), 'utf8')));
    }
    const off = await render({ 'dashboards.enabled': 'false' });
    expect(of(off, 'ConfigMap').map((m) => m.metadata.name)).toEqual(['rel-pipeline-supervisor']);
  });

  it('the chart reads the dashboards and rules from grafana/ through symlinks (never a stale copy)', () => {
    expect(fs.realpathSync(path.join(CHART, 'dashboards'))).toBe(path.join(ROOT, 'grafana/dashboards'));
    expect(fs.realpathSync(path.join(CHART, 'rules'))).toBe(path.join(ROOT, 'grafana/prometheus/rules'));
  });
});

/**
 * helm for the chart's tests (`helm lint`, `helm template`): built from the Go module proxy
 * with `go install helm.sh/helm/v3/cmd/helm@v3.22.0` into `.stack/opt/helm-v3.22.0/bin`
 * (idempotent: skipped when that binary exists). No Kubernetes API server is needed.
 *
 * Usage: npx tsx stack/container-helm.ts   (prints the helm path)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dirs, ensureDir } from './paths';
import { installLog, run, which } from './install';
import { consoleLog, type StackLog } from './log';

export const HELM_VERSION = 'v3.22.0';

export function helmPath(): string {
  return path.join(dirs.opt, `helm-${HELM_VERSION}`, 'bin', 'helm');
}

export async function ensureHelm(log: StackLog = consoleLog('helm')): Promise<string> {
  const bin = helmPath();
  if (fs.existsSync(bin)) return bin;
  const go = which('go') ?? ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find((g) => fs.existsSync(g));
  if (!go) throw new Error('go is missing: install Go (the Debian package golang-go, or /usr/local/go) to build helm from the Go module proxy');
  log.info(`go install helm.sh/helm/v3/cmd/helm@${HELM_VERSION} (first time: a few minutes)…`);
  const gobin = ensureDir(path.dirname(bin));
  await run(go, ['install', `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
    env: { ...process.env, GOBIN: gobin, GOFLAGS: '-mod=mod' },
    logPath: installLog('helm'),
    timeoutMs: 30 * 60_000,
  });
  if (!fs.existsSync(bin)) throw new Error(`go install finished but ${bin} is missing; see ${installLog('helm')}`);
  return bin;
}

if (require.main === module) {
  ensureHelm().then(
    (bin) => process.stdout.write(`${bin}\n`),
    (err: unknown) => {
      process.stderr.write(`helm: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

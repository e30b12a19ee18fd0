import { spawnSync } from 'node:child_process';
import { venvPython } from '../../stack/spark';
import { endpoints } from '../../stack/endpoints';

/**
 * Rows of a Delta table on the stack's S3 read with delta-rs (the stack's venv): an independent
 * reader for tests. `uri` is `s3://bucket/prefix`; `columns` limits what is read.
 */
export function readDelta(uri: string, columns?: readonly string[]): Record<string, unknown>[] {
  // os._exit after the flush: delta-rs' runtime threads can abort the interpreter's shutdown
  // ("terminate called without an active exception") after the answer is complete
  const script = `import json, os, sys
from deltalake import DeltaTable
cols = sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] else None
rows = DeltaTable(sys.argv[1]).to_pyarrow_table(columns=cols).to_pylist()
print(json.dumps(rows, default=str))
sys.stdout.flush()
os._exit(0)`;
  const res = spawnSync(venvPython(), ['-c', script, uri, (columns ?? []).join(',')], {
    encoding: 'utf8',
    timeout: 90_000,
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      AWS_ENDPOINT_URL: endpoints.s3Endpoint,
      AWS_ALLOW_HTTP: 'true',
      AWS_S3_ALLOW_UNSAFE_RENAME: 'true',
      AWS_ACCESS_KEY_ID: endpoints.s3AccessKeyId,
      AWS_SECRET_ACCESS_KEY: endpoints.s3SecretAccessKey,
      AWS_REGION: endpoints.s3Region,
    },
  });
  if (res.status !== 0) throw new Error(`delta-rs read of ${uri} failed (exit ${res.status}): ${res.stderr.slice(-1500)}`);
  return JSON.parse(res.stdout) as Record<string, unknown>[];
}

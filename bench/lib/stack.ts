/** The local stack for the benchmarks: started (or reused) through stack/manager.ts, owner "bench". */
import { up } from '../../stack/manager';
import { endpoints } from '../../stack/endpoints';
import { stackS3Client } from '../../stack/services/s3';

export const BENCH_OWNER = 'bench';

export async function ensureStack(names: string[], log: (m: string) => void): Promise<void> {
  const r = await up(names, { owner: BENCH_OWNER, log: { info: (m) => log(`stack: ${m}`), warn: (m) => log(`stack: WARN ${m}`) } });
  if (r.started.length) log(`stack: started ${r.started.join(', ')} (reused ${r.reused.join(', ') || 'none'})`);
}

export { endpoints, stackS3Client };

export const s3Options = () => ({
  endpoint: endpoints.s3Endpoint,
  region: endpoints.s3Region,
  accessKeyId: endpoints.s3AccessKeyId,
  secretAccessKey: endpoints.s3SecretAccessKey,
  forcePathStyle: true,
});

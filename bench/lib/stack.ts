/** The local stack for the benchmarks: started (or reused) through stack/manager.ts, owner "bench". */
import { up } from '../../stack/manager';
import { endpoints } from '../../stack/endpoints';
import { stackS3Client } from '../../stack/services/s3';

export const BENCH_OWNER = 'bench';

export async function ensureStack(names: string[], log: (m: string) => void): Promise<void> {
  try {
    const r = await up(names, { owner: BENCH_OWNER, log: { info: (m) => log(`stack: ${m}`), warn: (m) => log(`stack: WARN ${m}`) } });
    if (r.started.length) log(`stack: started ${r.started.join(', ')} (reused ${r.reused.join(', ') || 'none'})`);
  } catch (err) {
    // Another session runs the same services on the same ports without this stack's records:
    // use them as they are (the endpoints are the same) rather than fail.
    if (!/already in use/.test((err as Error).message)) throw err;
    log(`stack: WARN using services already listening that this stack did not start: ${(err as Error).message.split('\n')[0]}`);
  }
}

export { endpoints, stackS3Client };

export const s3Options = () => ({
  endpoint: endpoints.s3Endpoint,
  region: endpoints.s3Region,
  accessKeyId: endpoints.s3AccessKeyId,
  secretAccessKey: endpoints.s3SecretAccessKey,
  forcePathStyle: true,
});

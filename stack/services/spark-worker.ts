/**
 * One Spark standalone worker registered with the stack's master. Cores and memory it offers:
 * STACK_SPARK_WORKER_CORES (default 2) and STACK_SPARK_WORKER_MEMORY (default 2g); jobs take
 * 1 core and 512m executors by default (see stack/spark.ts), so two can run side by side.
 */
import * as path from 'node:path';
import { HOST, endpoints, ports } from '../endpoints';
import { httpJson } from '../probes';
import { sparkEnv, sparkHome, SPARK_VERSION } from '../spark';
import type { MasterJson } from './spark-master';
import type { ServiceDef } from './types';

const workerUi = () => `http://${HOST}:${ports.sparkWorkerUi}`;

export const sparkWorker: ServiceDef = {
  name: 'spark-worker',
  description: `Spark ${SPARK_VERSION} standalone worker`,
  dependsOn: ['spark-master'],
  ports: () => [{ name: 'ui', port: ports.sparkWorkerUi }],
  endpoints: () => ({ ui: workerUi(), master: endpoints.sparkMaster }),
  readyTimeoutMs: 90_000,
  async install() {
    /* installed with spark-master */
  },
  command: () => ({
    command: path.join(sparkHome(), 'bin', 'spark-class'),
    args: [
      'org.apache.spark.deploy.worker.Worker',
      endpoints.sparkMaster,
      '--host',
      HOST,
      '--webui-port',
      String(ports.sparkWorkerUi),
      '--cores',
      process.env.STACK_SPARK_WORKER_CORES ?? '2',
      '--memory',
      process.env.STACK_SPARK_WORKER_MEMORY ?? '2g',
    ],
    // Finished applications' folders (logs, copied files) are removed after a day.
    env: sparkEnv({
      SPARK_WORKER_OPTS: [
        '-Dspark.worker.cleanup.enabled=true',
        '-Dspark.worker.cleanup.interval=1800',
        '-Dspark.worker.cleanup.appDataTtl=86400',
        process.env.SPARK_WORKER_OPTS ?? '',
      ]
        .join(' ')
        .trim(),
    }),
  }),
  async ready() {
    const me = await httpJson<{ id: string }>(`${workerUi()}/json/`);
    if (!me?.id) return false;
    const master = await httpJson<MasterJson>(`${endpoints.sparkMasterUi}/json/`);
    return master?.workers.some((w) => w.id === me.id && w.state === 'ALIVE') ?? false;
  },
};

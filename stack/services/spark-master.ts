/**
 * Spark standalone master from the `pyspark` wheel (`spark-class org.apache.spark.deploy.master.Master`;
 * the wheel has no sbin scripts). Ready when `/json/` reports ALIVE.
 */
import * as path from 'node:path';
import { HOST, endpoints, ports } from '../endpoints';
import { checkJava } from '../java';
import { httpJson } from '../probes';
import { installSpark, sparkEnv, sparkHome, SPARK_VERSION } from '../spark';
import type { ServiceDef } from './types';

export interface MasterJson {
  url: string;
  status: string;
  aliveworkers: number;
  workers: { id: string; host: string; state: string; webuiaddress: string }[];
  activeapps: { id: string; name: string; state: string }[];
  completedapps: { id: string; name: string; state: string }[];
}

export const sparkMaster: ServiceDef = {
  name: 'spark-master',
  description: `Spark ${SPARK_VERSION} standalone master`,
  ports: () => [
    { name: 'rpc', port: ports.sparkMaster },
    { name: 'ui', port: ports.sparkMasterUi },
  ],
  endpoints: () => ({ master: endpoints.sparkMaster, ui: endpoints.sparkMasterUi, json: `${endpoints.sparkMasterUi}/json/` }),
  readyTimeoutMs: 90_000,
  async install({ log }) {
    checkJava();
    await installSpark(log);
  },
  command: () => ({
    command: path.join(sparkHome(), 'bin', 'spark-class'),
    args: ['org.apache.spark.deploy.master.Master', '--host', HOST, '--port', String(ports.sparkMaster), '--webui-port', String(ports.sparkMasterUi)],
    env: sparkEnv(),
  }),
  async ready() {
    const json = await httpJson<MasterJson>(`${endpoints.sparkMasterUi}/json/`);
    return json?.status === 'ALIVE';
  },
};

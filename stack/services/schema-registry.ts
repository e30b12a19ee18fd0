/**
 * A Confluent-API-compatible schema registry: Apicurio Registry (Maven Central,
 * `io.apicurio:apicurio-registry-app:<v>:zip:all`, a Quarkus app), Confluent API under
 * `/apis/ccompat/v7`. Storage is an H2 database file in `.stack/data/schema-registry`, so
 * schema ids survive a restart (records in Kafka keep decoding).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { endpoints, HOST, ports } from '../endpoints';
import { checkJava, javaBin } from '../java';
import { mavenCopyArtifact, once, run, installLog } from '../install';
import { dirs, ensureDir } from '../paths';
import { httpOk } from '../probes';
import type { ServiceDef } from './types';

export const APICURIO_VERSION = '3.0.9';
const home = () => path.join(dirs.opt, `apicurio-registry-${APICURIO_VERSION}`);
const runner = () => path.join(home(), `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`);
const dataDir = () => path.join(dirs.data, 'schema-registry');

export const schemaRegistry: ServiceDef = {
  name: 'schema-registry',
  description: `Apicurio Registry ${APICURIO_VERSION} (Confluent-compatible API)`,
  ports: () => [{ name: 'http', port: ports.schemaRegistry }],
  endpoints: () => ({ confluent: endpoints.schemaRegistryUrl, 'native api': `http://${HOST}:${ports.schemaRegistry}/apis/registry/v3` }),
  readyTimeoutMs: 120_000,

  async install({ log }) {
    checkJava();
    await once(`apicurio-registry-${APICURIO_VERSION}`, log, `Apicurio Registry ${APICURIO_VERSION} from Maven Central`, async () => {
      const dl = path.join(dirs.cache, 'downloads');
      const zip = await mavenCopyArtifact(
        'apicurio-registry',
        { groupId: 'io.apicurio', artifactId: 'apicurio-registry-app', version: APICURIO_VERSION, classifier: 'all', type: 'zip' },
        dl,
        log,
      );
      fs.rmSync(home(), { recursive: true, force: true });
      ensureDir(home());
      // unzip when present, else Python's zipfile (both are on the machines this runs on).
      const [cmd, args] = fs.existsSync('/usr/bin/unzip') ? ['unzip', ['-q', '-o', zip, '-d', home()]] : ['python3', ['-m', 'zipfile', '-e', zip, home()]];
      await run(cmd, args, { logPath: installLog('schema-registry') });
      if (!fs.existsSync(runner())) throw new Error(`${runner()} missing after unzip of ${zip}`);
    });
    ensureDir(dataDir());
  },

  command: () => ({
    command: javaBin(),
    args: [
      '-Xms64m',
      `-Xmx${process.env.STACK_SCHEMA_REGISTRY_HEAP ?? '256m'}`,
      '-XX:+UseSerialGC',
      `-Dquarkus.http.host=${HOST}`,
      `-Dquarkus.http.port=${ports.schemaRegistry}`,
      '-Dquarkus.log.level=WARN',
      '-Dquarkus.log.category."io.apicurio".level=INFO',
      '-Dquarkus.log.category."io.quarkus.vertx.http.runtime.filters.accesslog".level=WARN',
      '-Dapicurio.storage.sql.kind=h2',
      `-Dapicurio.datasource.url=jdbc:h2:file:${path.join(dataDir(), 'registry')};DB_CLOSE_ON_EXIT=FALSE`,
      '-Dapicurio.datasource.username=sa',
      '-Dapicurio.datasource.password=sa',
      '-jar',
      runner(),
    ],
    cwd: home(),
  }),

  ready: () => httpOk(`${endpoints.schemaRegistryUrl}/subjects`),
};

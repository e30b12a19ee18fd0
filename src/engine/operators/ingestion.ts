/**
 * The seed's IngestionOperator: runs the domain ingestion service for one source (or all of
 * them) as a subprocess or as a `docker run --rm` container.
 *
 * Params (as in the seed): source_name (null = all sources; a name not in sources.yaml is
 * rejected before anything starts), config_path (sources.yaml, relative to the config folder),
 * kafka_servers, execution_mode (subprocess | docker). Extras: schema_registry, topic,
 * command (argv prefix replacing the reference CLI, for other ingestion services), env,
 * kill_grace, and for the docker mode: image, docker_binary (`docker` or `podman`, or a path),
 * docker_global_args (before the subcommand, e.g. [--runtime, runc, --cgroup-manager=cgroupfs]),
 * docker_args (extra `run` options), network (default host), docker_user (default: the
 * supervisor's own uid:gid, so the container reads the files the subprocess would; "" = the image's user).
 *
 * The docker mode runs the same arguments and environment in `<cli> run --rm` (src/engine/
 * operators/container.ts): the sources file's folder mounted read-only at /config, the
 * KAFKA_* files (TLS) mounted read-only at their paths, env passed as `-e NAME` (values in the
 * CLI's environment, never on its command line), the container labelled for crash recovery and
 * stopped and removed on timeout or cancellation.
 *
 * The service also gets connections.kafka as KAFKA_* environment variables (security protocol,
 * TLS files, SASL mechanism and credentials; src/shared/kafka-connection.ts `kafkaEnvFor`).
 *
 * The run's conf may override source_name (`--conf '{"source_name":"x"}'`, an ingest-request).
 * Exit codes of the reference CLI: 0 ok, 1 some source failed (retried), 2 usage error (not
 * retried). Its one-line JSON summary on stdout becomes the task result.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SupervisorError } from '../../protocol';
import type { Operator, TaskContext } from '../operator';
import { containerLabels, containerName, runContainerTask } from './container';
import { durationMsParam } from './durations';
import { argvParam, envParam, runProcessTask, stringParam, TaskProcessError, whereOf } from './process-task';

export interface IngestionOperatorParams {
  /** Repository root: the default command runs `node_modules/.bin/tsx stack/pipeline/ingestion/cli.ts` from it. */
  repoRoot: string;
  killGraceMs?: number;
  /**
   * connections.kafka as KAFKA_* variables (src/shared/kafka-connection.ts `kafkaEnvFor`):
   * security protocol, TLS files, SASL mechanism and credentials. In the child's environment
   * only (for docker: `-e NAME`, the value never on a command line); the task's `env` wins.
   */
  kafkaEnv?: Readonly<Record<string, string>>;
}

export const DEFAULT_INGESTION_IMAGE = 'domain-ingestion:latest';
/** Variables the supervisor sets for every task process, passed into a container by name too. */
const TASK_ENV_NAMES = ['SUPERVISOR_RUN_ID', 'SUPERVISOR_TASK_ID', 'SUPERVISOR_TRY_NUMBER', 'SUPERVISOR_LOGICAL_DATE'] as const;

/** Source names of a sources.yaml (`sources:` map keys). Throws a non-retryable error naming the file. */
export function readSourceNames(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `cannot read the sources file: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, {
      where: file,
      retryable: false,
      cause,
    });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (cause) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `the sources file is not valid YAML: ${(cause as Error).message.split('\n')[0]}`, { where: file, retryable: false });
  }
  const sources = (doc as { sources?: unknown } | null)?.sources;
  if (!sources || typeof sources !== 'object' || Array.isArray(sources)) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'the sources file has no `sources:` map', { where: file, retryable: false });
  }
  return Object.keys(sources);
}

export interface IngestionPlan {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  sourceName: string | null;
  configPath: string;
  /** docker mode: the CLI (binary and global arguments) and the container's name. */
  container?: { cli: string[]; name: string; image: string };
}

/** Validates the params and builds the argv (exported for `--dry-run` output and tests). */
export function planIngestion(
  ctx: Pick<TaskContext, 'params' | 'conf' | 'configDir' | 'runId' | 'logicalDate' | 'pipeline' | 'taskId'> & Partial<Pick<TaskContext, 'tryNumber'>>,
  repoRoot: string,
  kafkaEnv: Readonly<Record<string, string>> = {},
): IngestionPlan {
  const where = whereOf(ctx as TaskContext);
  const p = ctx.params;
  const mode = stringParam(p, 'execution_mode', where) ?? 'subprocess';
  if (mode !== 'subprocess' && mode !== 'docker') {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `execution_mode must be "subprocess" or "docker", got "${mode}"`, { where, retryable: false });
  }
  const configParam = stringParam(p, 'config_path', where);
  if (!configParam) throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'param "config_path" (the sources.yaml) is required', { where, retryable: false });
  const configPath = path.resolve(ctx.configDir, configParam);
  const kafka = stringParam(p, 'kafka_servers', where);
  if (!kafka) throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'param "kafka_servers" is required (e.g. "{{ var.kafka_servers }}")', { where, retryable: false });
  const confSource = ctx.conf.source_name ?? ctx.conf.source;
  const sourceName =
    confSource !== undefined && confSource !== null ? (typeof confSource === 'string' ? confSource : JSON.stringify(confSource)) : (stringParam(p, 'source_name', where) ?? null);

  const names = readSourceNames(configPath);
  if (sourceName !== null && !names.includes(sourceName)) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `unknown source "${sourceName}": ${configPath} defines ${names.join(', ') || 'no sources'}`, {
      where: confSource !== undefined ? 'run conf source_name' : `${where}.source_name`,
      retryable: false,
    });
  }

  const registry = stringParam(p, 'schema_registry', where);
  const topic = stringParam(p, 'topic', where);
  const args = (cfg: string): string[] => [
    '--config',
    cfg,
    ...(sourceName !== null ? ['--source', sourceName] : []),
    '--kafka-servers',
    kafka,
    '--run-id',
    ctx.runId,
    '--logical-date',
    new Date(ctx.logicalDate).toISOString(),
    ...(registry ? ['--schema-registry', registry] : []),
    ...(topic ? ['--topic', topic] : []),
  ];
  const env = { ...kafkaEnv, ...envParam(p, where) };

  if (mode === 'docker') {
    const binary = stringParam(p, 'docker_binary', where) ?? 'docker';
    if (binary.trim() === '') throw new SupervisorError('SUP_ERR_CONFIG_INVALID', 'param "docker_binary" is empty: give "docker", "podman" or a path', { where, retryable: false });
    const cli = [binary, ...(argvParam(p, 'docker_global_args', where) ?? [])];
    const image = stringParam(p, 'image', where) ?? DEFAULT_INGESTION_IMAGE;
    const network = stringParam(p, 'network', where) ?? 'host';
    const extra = argvParam(p, 'docker_args', where) ?? [];
    const user = stringParam(p, 'docker_user', where) ?? (process.getuid && process.getgid ? `${process.getuid()}:${process.getgid()}` : '');
    const tryNumber = ctx.tryNumber ?? 1;
    const name = containerName(ctx.pipeline, ctx.taskId, ctx.runId, tryNumber);
    const labels = Object.entries(containerLabels({ pipeline: ctx.pipeline, taskId: ctx.taskId, runId: ctx.runId, tryNumber })).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    // values passed through the environment, never on the command line
    const envArgs = [...Object.keys(env), ...TASK_ENV_NAMES].flatMap((k) => ['-e', k]);
    // TLS files named by KAFKA_*_FILE variables: the same path inside the container, read-only
    const fileMounts = Object.entries(env)
      .filter(([k, v]) => /_FILE$/.test(k) && path.isAbsolute(v) && fs.existsSync(v))
      .flatMap(([, v]) => ['-v', `${v}:${v}:ro`]);
    return {
      argv: [
        ...cli,
        'run',
        '--rm',
        '--name',
        name,
        ...labels,
        '--network',
        network,
        ...(user ? ['--user', user] : []),
        '-v',
        `${path.dirname(configPath)}:/config:ro`,
        ...fileMounts,
        ...envArgs,
        ...extra,
        image,
        ...args(`/config/${path.basename(configPath)}`),
      ],
      cwd: ctx.configDir,
      env,
      sourceName,
      configPath,
      container: { cli, name, image },
    };
  }
  const prefix = argvParam(p, 'command', where) ?? [path.join(repoRoot, 'node_modules', '.bin', 'tsx'), path.join(repoRoot, 'stack', 'pipeline', 'ingestion', 'cli.ts')];
  return { argv: [...prefix, ...args(configPath)], cwd: repoRoot, env, sourceName, configPath };
}

export function createIngestionOperator(options: IngestionOperatorParams): Operator {
  return async (ctx) => {
    const plan = planIngestion(ctx, options.repoRoot, options.kafkaEnv);
    const killGraceMs = durationMsParam(ctx.params, 'kill_grace', whereOf(ctx)) ?? options.killGraceMs ?? 20_000;
    const result = plan.container
      ? await runContainerTask(ctx, { argv: plan.argv, cli: plan.container.cli, name: plan.container.name, cwd: plan.cwd, env: plan.env, killGraceMs })
      : await runProcessTask(ctx, { argv: plan.argv, cwd: plan.cwd, env: plan.env, killGraceMs });
    const summary = result.lastJson;
    if (result.exitCode === 0) return { result: summary ?? { ok: true }, exitCode: 0 };
    const detail = typeof summary?.error === 'string' ? `: ${summary.error}` : '';
    if (result.exitCode === 2) throw new TaskProcessError(`the ingestion rejected its arguments (exit code 2)${detail}`, 2, false);
    if (result.exitCode === 1) throw new TaskProcessError(`the ingestion failed for at least one source (exit code 1)${detail}`, 1, true);
    if (plan.container && result.exitCode !== null && result.exitCode >= 125 && result.exitCode <= 127) {
      // docker/podman's own codes: 125 the engine failed (e.g. no such image), 126 cannot invoke, 127 not found
      throw new TaskProcessError(
        `the container engine could not run the ingestion container (${plan.container.cli[0]} exit code ${result.exitCode}; see the task log — is the image ${plan.container.image} built or pullable?)`,
        result.exitCode,
        result.exitCode === 125,
      );
    }
    throw new TaskProcessError(
      result.exitSignal ? `the ingestion was ended by ${result.exitSignal}${detail}` : `the ingestion exited with code ${result.exitCode}${detail}`,
      result.exitCode,
      true,
    );
  };
}

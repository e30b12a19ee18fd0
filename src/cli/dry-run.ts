/**
 * What `config validate` and `start --dry-run` share with `start`: the config loaded by the same
 * loadConfig (with the variables stored in the state store, read without creating or migrating
 * it), and every structure the daemon derives from it before it connects to anything (pipeline
 * catalog, check options, alert rules, sinks). Nothing listens, nothing connects.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { closeSinks, createSinks, resolveAlertRules } from '../../alerts';
import { loadConfig, readStoreSettings, type LoadedConfig } from '../config/load';
import { createPipelineCatalog } from '../engine/dag';
import { silentLogger } from '../shared/logger';
import { resolvedChecks } from '../wiring/probes';
import type { CliContext } from './context';

export interface StartValidation {
  loaded: LoadedConfig;
  storePath: string;
  pipelines: number;
  checks: number;
  rules: number;
  sinks: number;
  /** Why stored variables could not be read, when they could not (validation then used the file's defaults). */
  storeNote?: string;
}

/** Variables stored in the state store, read-only; {} when there is no store yet. */
export function readStoredVariables(storePath: string): { variables: Record<string, string>; note?: string } {
  if (!fs.existsSync(storePath)) return { variables: {} };
  let db: Database.Database | undefined;
  try {
    db = new Database(storePath, { readonly: true, fileMustExist: true });
    const rows = db.prepare<[], { key: string; value: string }>('SELECT key, value FROM variables').all();
    const variables = Object.create(null) as Record<string, string>;
    for (const r of rows) variables[r.key] = r.value;
    return { variables };
  } catch (err) {
    return { variables: {}, note: `stored variables not read from ${storePath}: ${(err as Error).message}` };
  } finally {
    db?.close();
  }
}

/** Loads and validates everything `start` would, without opening ports or connecting. Throws the config's SupervisorError. */
export async function validateForStart({ file, env }: { file: string; env: Readonly<Record<string, string | undefined>> }): Promise<StartValidation> {
  // the store section is validated (files read) but a PostgreSQL store is not connected to
  const store = readStoreSettings(file, env);
  const storePath = store.kind === 'sqlite' ? store.path : store.display;
  const stored =
    store.kind === 'sqlite'
      ? readStoredVariables(store.path)
      : { variables: {}, note: `stored variables not read from ${store.display}: a dry run connects to nothing (the config's defaults were used)` };
  const loaded = loadConfig({ file, env, storedVariables: stored.variables });
  const { config } = loaded;
  const catalog = createPipelineCatalog(config);
  const checks = resolvedChecks(config);
  const { rules } = resolveAlertRules(config.alerts);
  const sinks = createSinks(config.alerts.sinks, silentLogger);
  await closeSinks(sinks);
  return {
    loaded,
    storePath,
    pipelines: catalog.list().length,
    checks: checks.length,
    rules: rules.length,
    sinks: sinks.length,
    ...(stored.note !== undefined ? { storeNote: stored.note } : {}),
  };
}

/** `start --dry-run`: exit 0 with a summary, or the config's error (exit 2 through the CLI's catch-all). */
export async function dryRunStart(ctx: CliContext, opts: { port?: number }): Promise<void> {
  const v = await validateForStart({ file: ctx.configFile(), env: ctx.env });
  const port = opts.port ?? v.loaded.config.server.port;
  if (v.storeNote) ctx.stderr(v.storeNote);
  if (ctx.json) {
    ctx.stdout(
      JSON.stringify({
        ok: true,
        file: v.loaded.file,
        store: v.storePath,
        listen: `${v.loaded.config.server.host}:${port}`,
        pipelines: v.pipelines,
        checks: v.checks,
        rules: v.rules,
        sinks: v.sinks,
      }),
    );
    return;
  }
  ctx.stdout(
    `dry run OK ${v.loaded.file}: would listen on ${v.loaded.config.server.host}:${port}, store ${v.storePath}; ${v.pipelines} pipeline(s), ${v.checks} check(s), ${v.rules} alert rule(s), ${v.sinks} sink(s)`,
  );
}

/**
 * A variable change (CLI `variables set|delete`, API `PUT|DELETE /variables/{key}`) is checked
 * before it is stored: the config is loaded with the changed variable, and the change is refused
 * with the config's error when it would make the next start fail (e.g. `kafka_servers` set to
 * "" makes `connections.kafka.brokers` empty). Problems that exist with or without the change
 * (say an environment variable only the daemon's unit file sets) do not block it.
 */
import { SupervisorError, isSupervisorError } from '../protocol';
import { LIMITS } from '../shared/limits';
import { loadConfig, type LoadedConfig } from './load';

/** The variable key pattern (the store's VARIABLE_KEY, repeated here so src/config needs no store). */
export const VARIABLE_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

/** Why a key/value may not be stored (length limits, key pattern, reserved names), or null. The API and the CLI both use it. */
export function variableProblem(key: string, value?: string): string | null {
  if (key.length === 0) return 'the variable name is empty';
  if (key.length > LIMITS.variableKeyLength) return `the variable name is ${key.length} characters long; at most ${LIMITS.variableKeyLength}`;
  if (!VARIABLE_KEY_PATTERN.test(key)) return `invalid variable name ${JSON.stringify(key)}: use letters, digits, _ . - and start with a letter or _`;
  if (RESERVED.has(key)) return `"${key}" is a reserved name and cannot be a variable`;
  if (value !== undefined && value.length > LIMITS.variableValueLength) return `the value is ${value.length} characters long; at most ${LIMITS.variableValueLength}`;
  return null;
}

export interface CheckVariableChangeParams {
  /** The config file the daemon loads. */
  file: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** The variables stored now (before the change). */
  storedVariables: Readonly<Record<string, string>>;
  key: string;
  /** The new value; undefined = the variable is deleted. */
  value: string | undefined;
}

function problemsOf(err: SupervisorError): string[] {
  return err.problems.length > 0 ? [...err.problems] : [`${err.code}: ${err.message}`];
}

/**
 * Loads the config as it would be after the change. Returns the loaded config (or null when the
 * config did not load before the change either and the change adds no problem); throws a
 * SUP_ERR_CONFIG_INVALID SupervisorError listing the problems the change would introduce.
 */
export function checkVariableChange({ file, env = process.env, storedVariables, key, value }: CheckVariableChangeParams): LoadedConfig | null {
  const next: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(storedVariables)) if (k !== key) next[k] = v;
  if (value !== undefined) next[key] = value;
  let after: SupervisorError;
  try {
    return loadConfig({ file, env, storedVariables: next });
  } catch (err) {
    if (!isSupervisorError(err)) throw err;
    after = err;
  }
  let before: string[] = [];
  try {
    loadConfig({ file, env, storedVariables });
  } catch (err) {
    if (!isSupervisorError(err)) throw err;
    before = problemsOf(err);
  }
  const introduced = problemsOf(after).filter((p) => !before.includes(p));
  if (introduced.length === 0) return null;
  const what = value === undefined ? `deleting variable "${key}"` : `setting variable "${key}" to ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}`;
  throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${what} would make the configuration invalid, so it was not stored`, {
    ...(after.where !== undefined ? { where: after.where } : {}),
    problems: introduced,
  });
}

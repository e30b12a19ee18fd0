/**
 * Secrets from the configuration: an inline value (often `${ENV}`, which the loader has already
 * interpolated) or a `<key>_file` naming a file that holds it (a Kubernetes/Docker secret
 * mount). Used for every password, token and key of `connections.*` and of the checks.
 *
 * Errors name the key and the file, never the content: the message is safe to log and to show
 * in the API.
 */
import { readFileSync } from 'node:fs';
import { SupervisorError } from '../protocol';

/** Secret files larger than this are not secrets (a wrong path to a log or a binary). */
export const SECRET_FILE_MAX_BYTES = 65_536;

export interface SecretSource {
  /** The inline value, when given. */
  value?: string | undefined;
  /** Path of a file holding the secret, when given. */
  file?: string | undefined;
  /** The key as the user wrote it, e.g. `connections.schema_registry.password` (its file key is `<key>_file`). */
  key: string;
  /** Name of the file key when it is not `<key>_file` (camelCase options: `passwordFile`). */
  fileKey?: string;
}

/**
 * The secret of `source`: the inline value, or the file's content with one trailing newline
 * removed (`echo secret > file` writes one; any other whitespace is kept, it may be part of the
 * secret). Undefined when neither is given.
 *
 * Throws SUP_ERR_CONFIG_INVALID when both are given, or when the file is missing, unreadable,
 * too large or empty (a mount that has not been filled yet must not become an empty password).
 */
export function resolveSecret(source: SecretSource): string | undefined {
  const fileKey = source.fileKey ?? `${source.key}_file`;
  if (source.value !== undefined && source.file !== undefined) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${source.key} and ${fileKey} are both set: give the secret one way`, { where: source.key });
  }
  if (source.file === undefined) return source.value;
  return readSecretFile(source.file, fileKey);
}

/** Reads one secret file (see `resolveSecret`); `key` names the setting in errors. */
export function readSecretFile(file: string, key: string): string {
  if (file.trim() === '') throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${key} is empty: expected the path of a file holding the secret`, { where: key });
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (err) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${key}: cannot read ${file} (${fileProblem(err)})`, { where: key });
  }
  if (content.length > SECRET_FILE_MAX_BYTES) {
    throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${key}: ${file} is ${content.length} bytes, more than a secret (at most ${SECRET_FILE_MAX_BYTES})`, { where: key });
  }
  const text = content.toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `${key}: ${file} is empty`, { where: key });
  return text;
}

/** A short reason for a failed read, from Node's error code (never the file's content). */
export function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file (ENOENT)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code})`;
    case 'EISDIR':
      return 'it is a directory (EISDIR)';
    case 'ENOTDIR':
      return 'a part of the path is not a directory (ENOTDIR)';
    default:
      return code ?? (err instanceof Error ? err.message : String(err));
  }
}

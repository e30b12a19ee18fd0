/**
 * Config test helpers shared by the connection tests: secret files in a per-file temp folder
 * (written with the trailing newline a `echo > file` leaves), and a raw config's problems as
 * `path: message` lines.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateRawConfig } from '../../src/config/schema';

/** Registers beforeAll/afterAll for a temp folder; returns a writer of secret files in it, and the folder. */
export function secretFiles(prefix: string): ((name: string, content: string) => string) & { readonly dir: string } {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `${content}\n`);
    return file;
  };
  return Object.defineProperty(write, 'dir', { get: () => dir }) as typeof write & { readonly dir: string };
}

/** The problems of a raw (already parsed) config, `a.b.c: message` each; [] when valid. */
export function configIssues(raw: unknown): string[] {
  const r = validateRawConfig(raw);
  return r.success ? [] : r.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

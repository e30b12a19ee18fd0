/**
 * schemathesis (PyPI) in a private venv under the stack's folder (`.stack/venv-schemathesis`),
 * installed on first use with the machine's python3 and reused while its version marker
 * matches. Nothing outside the venv and the stack's pip cache is touched.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { aptInstall, run as runLogged } from '../../../stack/install';
import { consoleLog } from '../../../stack/log';
import { dirs } from '../../../stack/paths';

export const SCHEMATHESIS_VERSION = '4.32.5';
export const VENV = path.join(dirs.home, 'venv-schemathesis');
export const SCHEMATHESIS_BIN = path.join(VENV, 'bin', 'schemathesis');
const MARKER = path.join(VENV, `.installed-schemathesis-${SCHEMATHESIS_VERSION}`);

const LOG = path.join(dirs.logs, 'install-schemathesis.log');

/** Returns the schemathesis executable, installing the pinned version first when needed. */
export async function ensureSchemathesis(): Promise<string> {
  if (fs.existsSync(MARKER) && fs.existsSync(SCHEMATHESIS_BIN)) return SCHEMATHESIS_BIN;
  const python = path.join(VENV, 'bin', 'python');
  if (!fs.existsSync(python)) {
    // Debian's python3 needs python3-venv for `-m venv` (ensurepip)
    if (spawnSync('python3', ['-c', 'import ensurepip, venv']).status !== 0) {
      await aptInstall('python3-venv', ['python3-venv'], [], consoleLog('schemathesis'));
    }
    await runLogged('python3', ['-m', 'venv', VENV], { logPath: LOG, timeoutMs: 5 * 60_000 });
  }
  fs.mkdirSync(path.join(dirs.cache, 'pip'), { recursive: true });
  await runLogged(
    python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', '--cache-dir', path.join(dirs.cache, 'pip'), `schemathesis==${SCHEMATHESIS_VERSION}`],
    { logPath: LOG, timeoutMs: 15 * 60_000 },
  );
  fs.writeFileSync(MARKER, `${new Date().toISOString()}\n`);
  return SCHEMATHESIS_BIN;
}

/**
 * The browser of the web UI's tests: Debian's `chromium` package at /usr/bin/chromium,
 * installed when missing (`apt-get install -y chromium`, as the stack installs its Debian
 * packages). playwright-core drives it through `executablePath`; it never downloads a browser.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

export function ensureChromium(): string {
  if (fs.existsSync(CHROMIUM)) return CHROMIUM;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'pipe', env, timeout: 600_000 });
  } catch {
    // the package lists may be missing or stale on a fresh machine
    execFileSync('apt-get', ['update'], { stdio: 'pipe', env, timeout: 600_000 });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'pipe', env, timeout: 600_000 });
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`apt-get install chromium left no ${CHROMIUM}`);
  return CHROMIUM;
}

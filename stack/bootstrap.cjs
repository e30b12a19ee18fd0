#!/usr/bin/env node
'use strict';
/*
 * Makes a fresh clone runnable: installs the npm dependencies pinned in package-lock.json
 * (and builds dist/ through the `prepare` script) when node_modules is missing or was
 * installed from another lockfile. Plain Node, no dependencies: it runs before any exist.
 * Concurrent callers (npm test while npm run stack runs) wait for one install instead of
 * racing two `npm ci` over the same node_modules.
 */
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lock = path.join(root, 'package-lock.json');
const marker = path.join(root, 'node_modules', '.supervisor-lock-hash');
const mutex = path.join(root, '.bootstrap.lock');

const wanted = () => crypto.createHash('sha256').update(fs.readFileSync(lock)).digest('hex');
const hidden = path.join(root, 'node_modules', '.package-lock.json');
function installed() {
  if (fs.existsSync(marker)) return fs.readFileSync(marker, 'utf8').trim();
  // installed by a plain `npm ci`/`npm install` (no marker): trust npm's own record when it is
  // newer than the lockfile, instead of reinstalling under everyone's feet
  if (fs.existsSync(hidden) && fs.statSync(hidden).mtimeMs >= fs.statSync(lock).mtimeMs) {
    fs.writeFileSync(marker, wanted() + '\n');
    return wanted();
  }
  return '';
}
const built = () => fs.existsSync(path.join(root, 'dist', 'src', 'cli', 'main.js'));

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function acquire() {
  const deadline = Date.now() + 15 * 60 * 1000;
  for (;;) {
    try {
      fs.mkdirSync(mutex);
      fs.writeFileSync(path.join(mutex, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(mutex, 'pid'), 'utf8'));
      } catch {
        // being created right now
      }
      if (Number.isInteger(owner) && !alive(owner)) fs.rmSync(mutex, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`bootstrap: another install holds ${mutex} for too long; remove it if no npm is running`);
      else sleep(500);
    }
  }
}

if (installed() !== wanted() || !built()) {
  acquire();
  try {
    if (installed() !== wanted()) {
      process.stderr.write('bootstrap: installing npm dependencies from package-lock.json (npm ci)…\n');
      execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
      fs.writeFileSync(marker, wanted() + '\n');
    } else if (!built()) {
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    }
  } finally {
    fs.rmSync(mutex, { recursive: true, force: true });
  }
}

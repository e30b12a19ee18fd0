#!/usr/bin/env node
'use strict';
/*
 * Makes a fresh clone runnable: installs the npm dependencies pinned in package-lock.json
 * (and builds dist/ through the `prepare` script) when node_modules is missing or was
 * installed from another lockfile. Plain Node, no dependencies: it runs before any exist.
 */
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lock = path.join(root, 'package-lock.json');
const marker = path.join(root, 'node_modules', '.supervisor-lock-hash');
const hash = crypto.createHash('sha256').update(fs.readFileSync(lock)).digest('hex');
const installed = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim() : '';

if (installed !== hash) {
  process.stderr.write('bootstrap: installing npm dependencies from package-lock.json (npm ci)…\n');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  fs.writeFileSync(marker, hash + '\n');
} else if (!fs.existsSync(path.join(root, 'dist', 'src', 'cli', 'main.js'))) {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
}

#!/usr/bin/env node
'use strict';
// Links this repository's own `supervisor` command into node_modules/.bin, so that
// `npx supervisor …` from the repository root runs this checkout (run by `npm install`).
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const binDir = path.join(root, 'node_modules', '.bin');
const link = path.join(binDir, 'supervisor');
fs.mkdirSync(binDir, { recursive: true });
try {
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.relative(binDir, path.join(root, 'bin', 'supervisor.js')), link);
} catch (err) {
  process.stderr.write(`could not link node_modules/.bin/supervisor (${err.message}); use node bin/supervisor.js\n`);
}

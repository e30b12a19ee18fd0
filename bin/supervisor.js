#!/usr/bin/env node
'use strict';
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install` through the `prepare` script).
const path = require('node:path');
// The AWS SDK warns on Node 20 about releases after January 2027; the lockfile pins this one.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// memory settings of V8 (see v8-settings.cjs)
require('./v8-settings.cjs').applyV8Settings();
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('supervisor: not built yet (missing dist/). Run `npm install` or `npm run build` in ' + path.join(__dirname, '..') + '\n');
  process.exit(2);
}
require(entry)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
    // The command is done; a library timer that cannot be cancelled (kafkajs schedules connect
    // retries with a plain setTimeout) must not keep the process alive for seconds after it.
    setTimeout(() => process.exit(code), 500).unref();
  });

#!/usr/bin/env node
/*
 * Task process wrapper (plain Node, no dependencies). The supervisor starts it as the leader
 * of the task's process group, with an IPC channel; it runs the real argv in the same group and:
 *  - forwards stdout/stderr to the supervisor, keeping the last JSON line of stdout;
 *  - when the supervisor dies (the IPC channel disconnects), terminates the task at once
 *    (SIGTERM, SIGKILL after the grace), so an orphan never keeps running unsupervised;
 *  - writes the task's exit status atomically to STATUS_FILE, so a restarted supervisor
 *    knows whether an attempt interrupted by its crash had in fact succeeded.
 * Usage: node task-wrapper.cjs STATUS_FILE GRACE_MS -- ARGV...
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');

const [statusFile, graceText, sep, ...argv] = process.argv.slice(2);
if (!statusFile || sep !== '--' || argv.length === 0) {
  process.stderr.write('usage: task-wrapper.cjs STATUS_FILE GRACE_MS -- ARGV...\n');
  process.exit(2);
}
const graceMs = Number(graceText) || 10000;
let lastJson = null;
let partial = '';
let stopping = false;

function writeStatus(status) {
  try {
    const tmp = `${statusFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(status));
    fs.renameSync(tmp, statusFile);
  } catch (err) {
    process.stderr.write(`[task-wrapper] cannot write ${statusFile}: ${err.message}\n`);
  }
}

const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
child.on('error', (err) => {
  writeStatus({ code: 127, signal: null, error: err.message, lastJson: null, endedAt: Date.now() });
  process.stderr.write(`[task-wrapper] cannot run ${argv[0]}: ${err.code || err.message}\n`);
  process.exit(127);
});
// Forward with backpressure: a task printing faster than the supervisor reads is paused
// instead of piling its output up here (which a forced exit would then lose).
const safeWrite = (stream, chunk, source) => {
  try {
    if (!stream.write(chunk) && source) {
      source.pause();
      stream.once('drain', () => source.resume());
    }
  } catch {
    /* supervisor gone */
  }
};
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);
child.stdout.on('data', (chunk) => {
  safeWrite(process.stdout, chunk, child.stdout);
  partial += chunk.toString('utf8');
  const lines = partial.split('\n');
  partial = lines.pop();
  if (partial.length > 1 << 20) partial = '';
  for (const line of lines) {
    if (line.startsWith('{')) {
      try {
        const v = JSON.parse(line);
        if (v && typeof v === 'object' && !Array.isArray(v)) lastJson = v;
      } catch {
        /* not JSON */
      }
    }
  }
});
child.stderr.on('data', (chunk) => safeWrite(process.stderr, chunk, child.stderr));

function stop(why) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`[task-wrapper] ${why}: terminating the task\n`);
  try {
    child.kill('SIGTERM');
  } catch {
    /* already gone */
  }
  setTimeout(() => {
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      /* group gone */
    }
  }, graceMs).unref();
}

// The supervisor signals the whole group; the wrapper outlives the task to record its status.
process.on('SIGTERM', () => undefined);
process.on('SIGINT', () => undefined);
// (after the task finished, the wrapper disconnects itself: that is not the supervisor going away)
process.on('disconnect', () => {
  if (!finished) stop('the supervisor process went away');
});

// 'exit' can come before the last output was read: finish once both streams ended (or 10 s
// later, if a grandchild holds them open — the supervisor then cleans the group up).
let exitInfo = null;
let openStreams = 2;
let finished = false;
function finish() {
  if (finished || exitInfo === null) return;
  finished = true;
  if (partial.startsWith('{')) {
    try {
      const v = JSON.parse(partial);
      if (v && typeof v === 'object' && !Array.isArray(v)) lastJson = v;
    } catch {
      /* not JSON */
    }
  }
  const { code, signal } = exitInfo;
  writeStatus({ code, signal, lastJson, endedAt: Date.now() });
  process.exitCode = code === null ? 128 + 15 : code;
  if (process.connected) process.disconnect();
  const done = () => process.exit();
  try {
    process.stdout.write('', () => process.stderr.write('', done));
  } catch {
    done();
  }
  // the flush callbacks above end it; this only bounds a supervisor that stopped reading
  setTimeout(done, 30_000).unref();
}
child.stdout.on('end', () => {
  openStreams -= 1;
  if (openStreams === 0) finish();
});
child.stderr.on('end', () => {
  openStreams -= 1;
  if (openStreams === 0) finish();
});
child.on('exit', (code, signal) => {
  exitInfo = { code, signal };
  if (openStreams === 0) finish();
  else setTimeout(finish, 10_000).unref();
});

#!/usr/bin/env node
'use strict';
// The container image's HEALTHCHECK (Dockerfile): GET /healthz of the supervisor process this
// container runs (PID 1), exit 0 when it answers 2xx, else 1. Which port: `supervisor start`
// serves on SUPERVISOR_PORT (the image sets 8090); `supervisor worker` on its `--listen` address,
// and a worker without `--listen` serves nothing, so there is nothing to probe and the check
// passes while the process lives. SUPERVISOR_HEALTH_URL, when set, is probed instead.
const path = require('node:path');

/** The arguments after the launcher: `node /app/bin/supervisor.js worker --listen 0.0.0.0:9464` → ['worker', '--listen', '0.0.0.0:9464']. */
function commandArgs(cmdline) {
  const at = cmdline.findIndex((a) => /supervisor(\.js)?$/.test(a));
  return at >= 0 ? cmdline.slice(at + 1) : cmdline.slice(1);
}

/** The value of `--listen X` or `--listen=X`, else undefined. */
function listenOf(args) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--listen') return args[i + 1];
    if (args[i].startsWith('--listen=')) return args[i].slice('--listen='.length);
  }
  return undefined;
}

/**
 * `--listen`'s value, parsed as the worker parses it (src/config/listen.ts: `HOST:PORT`,
 * `[IPv6]:PORT`, a bare port on 127.0.0.1) → its /healthz, on loopback for a wildcard host;
 * null when it is no address (the worker refuses it at start).
 */
function urlOfListen(listen) {
  const { parseListenAddress } = require(path.join(__dirname, '..', 'dist', 'src', 'config', 'listen.js'));
  const address = parseListenAddress(listen);
  if ('problem' in address) return null;
  const wildcard = address.host === '0.0.0.0' || address.host === '::';
  const host = wildcard ? '127.0.0.1' : address.host.includes(':') ? `[${address.host}]` : address.host;
  return `http://${host}:${address.port}/healthz`;
}

/** The URL to probe, or null when the process serves no endpoint (a worker without --listen). */
function healthUrl(cmdline, env) {
  if (env.SUPERVISOR_HEALTH_URL) return env.SUPERVISOR_HEALTH_URL;
  const args = commandArgs(cmdline);
  // the first word that is neither an option nor the value of the global -c/--config
  let command;
  for (let i = 0; i < args.length && command === undefined; i++) {
    if (args[i] === '-c' || args[i] === '--config') i++;
    else if (!args[i].startsWith('-')) command = args[i];
  }
  if (command === 'worker') {
    const listen = listenOf(args);
    return listen === undefined ? null : urlOfListen(listen);
  }
  return `http://127.0.0.1:${env.SUPERVISOR_PORT || 8090}/healthz`;
}

module.exports = { healthUrl };

if (require.main === module) {
  const fs = require('node:fs');
  let cmdline = [];
  try {
    cmdline = fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean);
  } catch {
    // not in a container (no /proc/1 readable): probe as `supervisor start`
  }
  const url = healthUrl(cmdline, process.env);
  if (url === null) process.exit(0);
  fetch(url, { signal: AbortSignal.timeout(2500) }).then(
    (r) => process.exit(r.ok ? 0 : 1),
    () => process.exit(1),
  );
}

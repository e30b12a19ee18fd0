/**
 * Jest global teardown: stops the services this jest session started (global setup or a test's
 * ensureServices), by their recorded pids; services that were already running stay up.
 * STACK_KEEP=1 keeps everything running (e.g. to inspect logs after a failure).
 */
import * as fs from 'node:fs';
import { consoleLog } from '../../stack/log';
import { down } from '../../stack/manager';
import { SESSION_FILE } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const owner = process.env.STACK_OWNER;
  if (!owner || !owner.startsWith('jest:')) return;
  try {
    if (process.env.STACK_KEEP === '1') {
      consoleLog('stack').info('global teardown: STACK_KEEP=1, leaving the services this run started running');
      return;
    }
    const stopped = await down(undefined, { owner, log: consoleLog('stack') });
    if (stopped.length > 0) consoleLog('stack').info(`global teardown: stopped ${stopped.join(', ')}`);
  } finally {
    fs.rmSync(SESSION_FILE(), { force: true });
  }
}

/**
 * Issue 13 item 16: start order and clean-up. The checks component starts the probes (the
 * alert engine only consumes), the signal state sees the first results, and when `listen`
 * fails every component already started is stopped: the probes stop running and the store's
 * lock is released.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createDaemon } from '../../../src/daemon';
import { isSupervisorError } from '../../../src/protocol';
import { lockStore } from '../../../src/store/database';
import { recordingLogger } from '../../helpers/recording-logger';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A Spark master that counts the probes' requests. */
async function fakeSparkMaster(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests += 1;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'ALIVE', aliveworkers: 1, workers: [], activeapps: [], completedapps: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests: () => requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function writeConfig(dir: string, sparkUrl: string): string {
  const file = path.join(dir, 'supervisor.yaml');
  fs.writeFileSync(
    file,
    [
      'server:',
      '  port: 0',
      'store:',
      '  path: state.db',
      'connections:',
      '  spark:',
      `    master_ui: ${sparkUrl}`,
      'checks:',
      '  spark:',
      '    kind: spark',
      '    interval: 200ms',
      '    expected_workers: 0',
      '',
    ].join('\n'),
  );
  return file;
}

describe('daemon start order and clean-up', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-start-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('listen fails: the error names the address and the flag, the probes stop, the store lock is released', async () => {
    const spark = await fakeSparkMaster();
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const logger = recordingLogger();
      const daemon = await createDaemon({ configFile: writeConfig(dir, spark.url), env: {}, logger, port });
      const failure = await daemon.start().then(
        () => null,
        (err: unknown) => err,
      );
      expect(isSupervisorError(failure) && failure.code).toBe('SUP_ERR_CONFIG_INVALID');
      expect((failure as Error).message).toBe(`cannot listen on 127.0.0.1:${port}: the address is in use by another process`);
      expect(isSupervisorError(failure) && failure.where).toBe('--port');
      // the checks had started before http, and were stopped with it: no probe runs any more
      expect(logger.lines.map((l) => l.msg)).toContain('checks scheduled');
      await sleep(100);
      const after = spark.requests();
      expect(after).toBeLessThanOrEqual(1);
      await sleep(800); // four intervals
      expect(spark.requests()).toBe(after);
      await daemon.stop();
      // the store is free again
      const lock = lockStore(path.join(dir, 'state.db'));
      expect(lock).not.toBeNull();
      lock?.release();
    } finally {
      await new Promise((r) => taken.close(r));
      await spark.close();
    }
  });

  it('the signal state has the first result of every probe, and a second daemon on the store is refused before it opens anything', async () => {
    const spark = await fakeSparkMaster();
    const config = writeConfig(dir, spark.url);
    const daemon = await createDaemon({ configFile: config, env: {}, logger: recordingLogger(), port: 0 });
    try {
      // nothing runs before start
      await sleep(300);
      expect(spark.requests()).toBe(0);
      await daemon.start();
      const end = Date.now() + 5_000;
      while (daemon.signals().length === 0 && Date.now() < end) await sleep(20);
      expect(daemon.signals().map((s) => s.check)).toEqual(['spark']);
      // the first result reached the state: the one request so far is the one it came from
      expect(spark.requests()).toBeGreaterThanOrEqual(1);
      const second = await createDaemon({ configFile: config, env: {}, logger: recordingLogger(), port: 0 }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(isSupervisorError(second) && second.code).toBe('SUP_ERR_STORE_LOCKED');
      expect((second as Error).message).toContain(`in use by process ${process.pid}`);
      expect((second as Error).message).toContain(path.join(fs.realpathSync(dir), 'state.db'));
    } finally {
      await daemon.stop();
      await spark.close();
    }
  });
});

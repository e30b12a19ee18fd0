/**
 * Scenario 3's peers. kminion and kafka_exporter are asked for from the Go module proxy with
 * `go install` (cached in bench/.work/bin). Where they cannot be had, the substitutes this
 * machine's registries do offer were tried (Debian's Burrow, PyPI's
 * prometheus-kafka-consumer-group-exporter) and the exact errors are recorded. Kafka's own
 * `kafka-consumer-groups --describe --all-groups` (the jars the stack installed) serves as the
 * reference for the lag values and as a timing baseline.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../lib/supervisor';
import { sleep } from '../lib/stats';
import type { ScenarioContext } from '../lib/types';

const run = promisify(execFile);

export const GO_PEERS = [
  { name: 'kminion', module: 'github.com/redpanda-data/kminion/v2@latest', bin: 'kminion' },
  { name: 'kafka_exporter', module: 'github.com/danielqsj/kafka_exporter@latest', bin: 'kafka_exporter' },
] as const;

/** Tries `go install`; returns the binary path or the exact error. */
export async function goInstall(ctx: ScenarioContext, peer: (typeof GO_PEERS)[number]): Promise<{ bin: string } | { error: string }> {
  const gobin = path.join(ctx.work, 'bin');
  const bin = path.join(gobin, peer.bin);
  if (fs.existsSync(bin)) return { bin };
  try {
    await run('go', ['install', peer.module], {
      env: { ...process.env, GOBIN: gobin, GOPATH: path.join(ctx.work, 'gopath'), GOMODCACHE: path.join(ctx.work, 'gopath', 'pkg', 'mod') },
      timeout: 600_000,
      maxBuffer: 10e6,
    });
    return fs.existsSync(bin) ? { bin } : { error: `go install ${peer.module} produced no ${peer.bin} binary` };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { error: `go install ${peer.module}: ${(e.stderr || e.message).trim().replace(/\s+/g, ' ')}` };
  }
}

/** Substitutes tried when the Go peers are not served; each records why it cannot serve here. */
export const SUBSTITUTES_TRIED: Record<string, string> = {
  'Burrow 1.2.1 (Debian `burrow`)':
    'installs (apt-get install burrow; needs a ZooKeeper: Debian `zookeeper` 3.8.0) but cannot read Kafka 4.1: its sarama client only knows protocol versions up to Kafka 2.0 ("Unknown Kafka Version: 2.8.0"); with kafka-version 2.0.0 every offset fetch fails ("failed to fetch offsets from broker", sarama_error EOF: the broker dropped the removed ListOffsets version, KIP-896) and __consumer_offsets records fail to decode ("failed to decode", value version newer than it knows), so it lists no consumer group',
  'prometheus-kafka-consumer-group-exporter 0.5.5 (PyPI)':
    'installs (with kafka-python 2.0.2; with kafka-python 3.x it does not import: "No module named kafka.protocol.offset") but cannot read Kafka 4.1: "Can\'t parse __consumer_offsets topic message value with unsupported version 4", and its ListOffsets v0 request (removed in Kafka 4.0) makes the broker close the connection ("socket disconnected"), so it exports no lag',
};

const KAFKA_LIB = () => path.join(process.env.STACK_HOME ?? path.join(REPO, '.stack'), 'opt', 'kafka-4.1.1', 'lib');

/** kafka-tools (ConsumerGroupCommand) from Maven Central, beside the broker's jars (which lack it). */
export async function ensureKafkaTools(ctx: ScenarioContext): Promise<string> {
  const dir = path.join(ctx.work, 'kafka-tools-4.1.1');
  if (!fs.existsSync(path.join(dir, '.done'))) {
    ctx.log('fetching org.apache.kafka:kafka-tools:4.1.1 from Maven Central…');
    const { mavenCopyDependencies } = await import('../../stack/install');
    await mavenCopyDependencies('bench-kafka-tools-4.1.1', [{ groupId: 'org.apache.kafka', artifactId: 'kafka-tools', version: '4.1.1' }], dir, { info: ctx.log, warn: ctx.log });
    fs.writeFileSync(path.join(dir, '.done'), new Date().toISOString());
  }
  return dir;
}

/**
 * Kafka's ConsumerGroupCommand --describe --all-groups: wall time, peak RSS and the lag of
 * every group/partition it prints.
 */
export async function kafkaConsumerGroupsDescribe(toolsDir: string, brokers: string, groupRe: RegExp): Promise<{ ms: number; peakRss: number; lags: Record<string, number> }> {
  const { spawn } = await import('node:child_process');
  const t0 = performance.now();
  const child = spawn(
    'java',
    [
      '-Xmx512m',
      '-cp',
      `${toolsDir}/*:${KAFKA_LIB()}/*`,
      'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
      '--bootstrap-server',
      brokers,
      '--describe',
      '--all-groups',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let peakRss = 0;
  let done = false;
  const exit = new Promise<number>((r) => child.on('exit', (code) => ((done = true), r(code ?? -1))));
  while (!done) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakRss = Math.max(peakRss, Number(m[1]) * 1024);
    } catch {
      /* exited */
    }
    await sleep(100);
  }
  const code = await exit;
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`kafka-consumer-groups exited ${code}: ${err.slice(-400)}`);
  const lags: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
    if (f.length >= 6 && groupRe.test(f[0]!) && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[5]!)) lags[`${f[0]}|${f[1]}|${f[2]}`] = Number(f[5]);
  }
  return { ms, peakRss, lags };
}

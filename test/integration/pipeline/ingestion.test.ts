/**
 * The reference ingestion CLI against the real Kafka and schema registry of the local stack:
 * records decode through the registry, per-source counts match the sample feeds, a bad
 * source fails alone, unknown sources and SIGTERM give the documented exit codes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Consumer } from 'kafkajs';
import { endpoints, ensureServices, kafkaClient, STACK_TIMEOUT_MS } from '../../helpers/stack';
import { freshGroup, freshTopic } from '../../helpers/names';
import { runCli, SHIPPED_SOURCES, startCli } from './ingestion-run';

const BROKERS = endpoints.kafkaBrokers.join(',');
const REGISTRY = endpoints.schemaRegistryUrl;

/** Hand-counted from stack/pipeline/feeds (same numbers as the unit test). */
const EXPECTED = {
  'malware-hosts': { fetched: 25, valid: 21, invalid: 4, duplicates: 2, produced: 19 },
  'phishing-urls': { fetched: 26, valid: 21, invalid: 5, duplicates: 2, produced: 19 },
  'malware-urls-csv': { fetched: 20, valid: 16, invalid: 4, duplicates: 2, produced: 14 },
  'scam-domains': { fetched: 23, valid: 19, invalid: 4, duplicates: 2, produced: 17 },
};

interface Decoded {
  key: string;
  value: { domain: string; source: string; category: string; first_seen: number; ingested_at: number; run_id: string };
  schemaId: number;
}

const consumers: Consumer[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await Promise.allSettled(consumers.splice(0).map((c) => c.disconnect()));
  await Promise.allSettled(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Reads every message of a topic from the beginning (until `count` or an idle second after the end). */
async function consumeAll(topic: string, count: number, timeoutMs = 30_000): Promise<Decoded[]> {
  const registry = new SchemaRegistry({ host: REGISTRY });
  const consumer = kafkaClient('ingestion-test').consumer({ groupId: freshGroup('ingest-check') });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: Decoded[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${out.length}/${count} messages on ${topic} after ${timeoutMs} ms`)), timeoutMs);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          const value = message.value!;
          out.push({ key: message.key!.toString(), value: (await registry.decode(value)) as Decoded['value'], schemaId: value.readInt32BE(1) });
          if (out.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  // a little longer: nothing beyond `count` must arrive
  await new Promise((r) => setTimeout(r, 1500));
  return out;
}

function tempSources(yaml: string, feeds: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ingest-'));
  for (const [name, text] of Object.entries(feeds)) writeFileSync(path.join(dir, name), text);
  writeFileSync(path.join(dir, 'sources.yaml'), yaml);
  return path.join(dir, 'sources.yaml');
}

beforeAll(async () => {
  await ensureServices(['kafka', 'schema-registry']);
}, STACK_TIMEOUT_MS);

describe('ingestion CLI against the real Kafka and schema registry', () => {
  it('ingests the four sample feeds: counts match, records decode through the registry, keyed by domain', async () => {
    const topic = freshTopic('harmful-domains');
    const res = await runCli(['--config', SHIPPED_SOURCES, '--kafka-servers', BROKERS, '--schema-registry', REGISTRY, '--topic', topic, '--run-id', 'run-it-1'], {
      LOGICAL_DATE: '2025-10-05T00:00:00Z',
    });
    expect(res.stderr).not.toMatch(/local-secret-key/);
    expect({ code: res.code, ok: res.summary.ok, error: res.summary.error }).toEqual({ code: 0, ok: true, error: undefined });
    expect(res.summary.topic).toBe(topic);
    expect(res.summary.runId).toBe('run-it-1');
    expect(res.summary.sources).toEqual(EXPECTED);

    const total = Object.values(EXPECTED).reduce((n, s) => n + s.produced, 0);
    const records = await consumeAll(topic, total);
    expect(records).toHaveLength(total);
    for (const r of records) {
      expect(r.key).toBe(r.value.domain);
      expect(r.value.run_id).toBe('run-it-1');
      expect(r.value.domain).toMatch(/^[a-z0-9.-]+$/);
    }
    const bySource = (name: string) => records.filter((r) => r.value.source === name);
    expect(bySource('malware-hosts')).toHaveLength(19);
    expect(bySource('phishing-urls').every((r) => r.value.category === 'phishing')).toBe(true);
    expect(bySource('scam-domains').map((r) => r.value.domain)).toContain('xn--mller-gewinnspiel-22b.example');
    const payload = bySource('malware-urls-csv').find((r) => r.value.domain === 'payload-host.example');
    expect(payload?.value.first_seen).toBe(Date.parse('2025-10-01T10:00:00Z'));
    expect(payload?.value.category).toBe('malware_distribution');

    // subject <topic>-value holds the schema the records were encoded with
    const subject = await fetch(`${REGISTRY}/subjects/${topic}-value/versions/latest`);
    expect(subject.status).toBe(200);
    const latest = (await subject.json()) as { id: number; schema: string };
    expect(new Set(records.map((r) => r.schemaId))).toEqual(new Set([latest.id]));
    expect(JSON.parse(latest.schema).name).toBe('HarmfulDomain');
  });

  it('--source ingests only that source', async () => {
    const topic = freshTopic('harmful-domains');
    const res = await runCli(['--config', SHIPPED_SOURCES, '--source', 'scam-domains', '--topic', topic], {
      KAFKA_SERVERS: BROKERS,
      SCHEMA_REGISTRY_URL: REGISTRY,
      RUN_ID: 'env-run',
    });
    expect(res.code).toBe(0);
    expect(Object.keys(res.summary.sources)).toEqual(['scam-domains']);
    const records = await consumeAll(topic, 17);
    expect(new Set(records.map((r) => r.value.source))).toEqual(new Set(['scam-domains']));
    expect(records[0]!.value.run_id).toBe('env-run');
  });

  it('--source with an unknown name exits 2 listing the valid names', async () => {
    const res = await runCli(['--config', SHIPPED_SOURCES, '--source', 'no-such-feed', '--kafka-servers', BROKERS]);
    expect(res.code).toBe(2);
    expect(res.summary.ok).toBe(false);
    expect(res.summary.error).toContain('unknown source "no-such-feed"; valid names: malware-hosts, phishing-urls, malware-urls-csv, scam-domains');
    expect(res.stderr).toContain('no-such-feed');
  });

  it('a missing or malformed feed fails its source (exit 1) while the others are produced', async () => {
    const topic = freshTopic('harmful-domains');
    const config = tempSources(
      `sources:
  good:
    format: domains
    path: good.txt
    category: scam
  csv-without-url-column:
    format: csv
    path: bad.csv
    column: url
    category: malware
  missing-file:
    format: hosts
    path: nowhere.txt
    category: malware
  also-good:
    format: hosts
    path: hosts.txt
    category: malware
`,
      {
        'good.txt': 'one.example\ntwo.example\nthree.example\n',
        'bad.csv': 'id,link\n1,http://x.example/\n',
        'hosts.txt': '0.0.0.0 four.example five.example\n',
      },
    );
    const dir = path.dirname(config);
    const res = await runCli(['--config', config, '--kafka-servers', BROKERS, '--schema-registry', REGISTRY, '--topic', topic]);
    expect(res.code).toBe(1);
    expect(res.summary.ok).toBe(false);
    expect(res.summary.sources.good).toEqual({ fetched: 3, valid: 3, invalid: 0, duplicates: 0, produced: 3 });
    expect(res.summary.sources['also-good']?.produced).toBe(2);
    expect(res.summary.sources['csv-without-url-column']?.error).toBe(`${path.join(dir, 'bad.csv')}:1: header has no column "url" (columns: "id", "link")`);
    expect(res.summary.sources['missing-file']?.error).toBe(`${path.join(dir, 'nowhere.txt')}: feed file does not exist`);
    const records = await consumeAll(topic, 5);
    expect(records.map((r) => r.key).sort()).toEqual(['five.example', 'four.example', 'one.example', 'three.example', 'two.example']);
  });

  it('reads feeds over http://127.0.0.1; an HTTP error fails that source', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/phish.txt') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('https://a-phish.example/login\nhttps://b-phish.example/\n');
      } else res.writeHead(404).end('not found');
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const topic = freshTopic('harmful-domains');
    const config = tempSources(`topic: ${topic}
sources:
  http-feed:
    format: urls
    url: http://127.0.0.1:${port}/phish.txt
    category: phishing
  http-gone:
    format: urls
    url: http://127.0.0.1:${port}/gone.txt
    category: phishing
`);
    const res = await runCli(['--config', config, '--kafka-servers', BROKERS, '--schema-registry', REGISTRY]);
    expect(res.code).toBe(1);
    expect(res.summary.topic).toBe(topic);
    expect(res.summary.sources['http-feed']).toEqual({ fetched: 2, valid: 2, invalid: 0, duplicates: 0, produced: 2 });
    expect(res.summary.sources['http-gone']?.error).toBe(`http://127.0.0.1:${port}/gone.txt: HTTP 404 Not Found`);
    expect((await consumeAll(topic, 2)).map((r) => r.key).sort()).toEqual(['a-phish.example', 'b-phish.example']);
  });

  it('stops on SIGTERM: prints the summary and exits 143 without producing', async () => {
    // A feed server that never answers keeps the run busy until the signal.
    const server = createServer(() => undefined);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const topic = freshTopic('harmful-domains');
    const config = tempSources(`sources:
  slow:
    format: domains
    url: http://127.0.0.1:${port}/slow.txt
    category: scam
`);
    const { child, done } = startCli(['--config', config, '--kafka-servers', BROKERS, '--schema-registry', REGISTRY, '--topic', topic]);
    // signal once the CLI runs (its handlers are installed before the "ingestion starting" log)
    const waitStart = Date.now();
    let stderrSoFar = '';
    child.stderr!.on('data', (d: Buffer) => (stderrSoFar += d.toString()));
    while (!stderrSoFar.includes('ingestion starting') && Date.now() - waitStart < 60_000) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    child.kill('SIGTERM');
    const res = await done;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(res.code).toBe(143);
    expect(res.summary.ok).toBe(false);
    expect(res.summary.error).toBe('stopped by SIGTERM');
    expect(res.summary.sources.slow?.produced).toBe(0);
    // server.close() waits for the hung connection otherwise
    server.closeAllConnections();
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { DomainProducer, HarmfulDomainValue } from '../../../stack/pipeline/ingestion/producer';
import { AbortedError } from '../../../stack/pipeline/ingestion/producer';
import { runIngestion } from '../../../stack/pipeline/ingestion/run';
import { parseSources } from '../../../stack/pipeline/ingestion/sources';

const logger = pino({ level: 'silent' });

function fakeProducer(opts: { failStart?: Error; failSendFor?: string } = {}) {
  const sent: HarmfulDomainValue[] = [];
  let closed = 0;
  const producer: DomainProducer = {
    schemaId: 1,
    async start() {
      if (opts.failStart) throw opts.failStart;
    },
    async send(values, signal) {
      if (signal?.aborted) throw new AbortedError();
      if (values[0]?.source === opts.failSendFor) throw new Error('broker said no');
      sent.push(...values);
      return values.length;
    },
    async close() {
      closed++;
    },
  };
  return { producer, sent, closed: () => closed };
}

function sources(feeds: Record<string, string>, yaml: object) {
  const dir = mkdtempSync(path.join(tmpdir(), 'run-'));
  for (const [name, text] of Object.entries(feeds)) writeFileSync(path.join(dir, name), text);
  return parseSources(yaml, path.join(dir, 'sources.yaml')).sources;
}

const two = () =>
  sources(
    { 'a.txt': 'a.example\nb.example\nA.example.\nnot valid!\n', 'b.txt': '0.0.0.0 c.example\n' },
    {
      sources: {
        a: { format: 'domains', path: 'a.txt', category: 'scam' },
        b: { format: 'hosts', path: 'b.txt', category: 'malware' },
      },
    },
  );

describe('runIngestion', () => {
  it('produces de-duplicated records with source, category, run id and times', async () => {
    const fake = fakeProducer();
    let t = 1_000;
    const summary = await runIngestion({ sources: two(), topic: 't', runId: 'r1', logger, createProducer: () => fake.producer, now: () => (t += 5) });
    expect(summary).toMatchObject({
      ok: true,
      runId: 'r1',
      topic: 't',
      sources: {
        a: { fetched: 4, valid: 3, invalid: 1, duplicates: 1, produced: 2 },
        b: { fetched: 1, valid: 1, invalid: 0, duplicates: 0, produced: 1 },
      },
    });
    expect(fake.sent).toEqual([
      { domain: 'a.example', source: 'a', category: 'scam', first_seen: 1005, ingested_at: 1005, run_id: 'r1' },
      { domain: 'b.example', source: 'a', category: 'scam', first_seen: 1005, ingested_at: 1005, run_id: 'r1' },
      { domain: 'c.example', source: 'b', category: 'malware', first_seen: 1005, ingested_at: 1005, run_id: 'r1' },
    ]);
    expect(fake.closed()).toBe(1);
  });

  it('fails only the source whose send fails', async () => {
    const fake = fakeProducer({ failSendFor: 'a' });
    const summary = await runIngestion({ sources: two(), topic: 't', runId: 'r', logger, createProducer: () => fake.producer });
    expect(summary.ok).toBe(false);
    expect(summary.sources.a?.error).toBe('produce failed: broker said no');
    expect(summary.sources.b).toMatchObject({ produced: 1 });
    expect(summary.sources.b?.error).toBeUndefined();
  });

  it('marks every source failed when the producer cannot start, and still closes it', async () => {
    const fake = fakeProducer({ failStart: new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9') });
    const summary = await runIngestion({ sources: two(), topic: 't', runId: 'r', logger, createProducer: () => fake.producer });
    expect(summary.sources.a?.error).toBe('cannot start producer: Connection error: connect ECONNREFUSED 127.0.0.1:9');
    expect(summary.sources.b?.error).toMatch(/^cannot start producer/);
    expect(fake.closed()).toBe(1);
  });

  it('does not create a producer when no source has records', async () => {
    const list = sources({}, { sources: { gone: { format: 'domains', path: 'missing.txt', category: 'scam' } } });
    const summary = await runIngestion({
      sources: list,
      topic: 't',
      runId: 'r',
      logger,
      createProducer: () => {
        throw new Error('must not be called');
      },
    });
    expect(summary.sources.gone?.error).toMatch(/missing\.txt: feed file does not exist$/);
  });

  it('stops when aborted and reports it', async () => {
    const fake = fakeProducer();
    const ac = new AbortController();
    ac.abort();
    const summary = await runIngestion({ sources: two(), topic: 't', runId: 'r', logger, signal: ac.signal, createProducer: () => fake.producer });
    expect(summary.ok).toBe(false);
    expect(summary.error).toMatch(/aborted/);
    expect(fake.sent).toHaveLength(0);
  });
});

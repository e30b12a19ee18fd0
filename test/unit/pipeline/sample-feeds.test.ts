import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseFeed } from '../../../stack/pipeline/ingestion/feeds';
import { processFeed } from '../../../stack/pipeline/ingestion/process';
import { loadSources } from '../../../stack/pipeline/ingestion/sources';

/** Counted by hand from the files in stack/pipeline/feeds (see the comments in each feed). */
export const EXPECTED = {
  'malware-hosts': { fetched: 25, valid: 21, invalid: 4, duplicates: 2 },
  'phishing-urls': { fetched: 26, valid: 21, invalid: 5, duplicates: 2 },
  'malware-urls-csv': { fetched: 20, valid: 16, invalid: 4, duplicates: 2 },
  'scam-domains': { fetched: 23, valid: 19, invalid: 4, duplicates: 2 },
};

describe('shipped sample feeds', () => {
  const file = loadSources(path.resolve(__dirname, '../../../stack/pipeline/sources.yaml'));
  const processed = Object.fromEntries(
    file.sources.map((s) => [s.name, processFeed(parseFeed(s.format, readFileSync(s.location, 'utf8'), { ...(s.csv ? { csv: s.csv } : {}), where: s.location }))]),
  );

  it('have the hand-counted fetched/valid/invalid/duplicate numbers', () => {
    expect(Object.fromEntries(Object.entries(processed).map(([k, v]) => [k, v.counts]))).toEqual(EXPECTED);
  });

  it('each contain an IDN domain that comes out as punycode', () => {
    const idn = Object.values(processed).map((p) => p.records.filter((r) => r.domain.includes('xn--')).map((r) => r.domain));
    expect(idn).toEqual([['xn--bcher-update-dlb.example'], ['xn---id-5cdz9da85i.example'], ['xn--bro-rechnung-dlb.example'], ['xn--mller-gewinnspiel-22b.example']]);
  });

  it('de-duplicate after normalisation and keep the earliest first-seen date', () => {
    const hosts = processed['malware-hosts']!.records.map((r) => r.domain);
    expect(hosts.filter((d) => d === 'malware-drop.example')).toHaveLength(1);
    const csv = processed['malware-urls-csv']!.records;
    expect(csv.find((r) => r.domain === 'payload-host.example')?.firstSeen).toBe(Date.parse('2025-10-01T10:00:00Z'));
    expect(csv.find((r) => r.domain === 'emotet-loader.example')?.firstSeen).toBe(Date.parse('2025-10-01T11:30:00Z'));
    expect(processed['phishing-urls']!.records.map((r) => r.domain)).toContain('wallet-recovery.example');
  });

  it('count invalid entries by reason', () => {
    expect(processed['malware-hosts']!.invalidByReason).toEqual({ malformed_line: 1, bad_label: 2, ip_address: 1 });
    expect(processed['malware-urls-csv']!.invalidByReason).toEqual({ malformed_line: 1, ip_address: 1, empty: 1, bad_label: 1 });
    expect(processed['scam-domains']!.invalidByReason).toEqual({ malformed_line: 1, bad_label: 2, single_label: 1 });
  });
});

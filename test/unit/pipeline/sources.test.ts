import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSources, parseSources, selectSources, SourcesConfigError } from '../../../stack/pipeline/ingestion/sources';

const SHIPPED = path.resolve(__dirname, '../../../stack/pipeline/sources.yaml');

function errorOf(fn: () => unknown): SourcesConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SourcesConfigError) return err;
    throw err;
  }
  throw new Error('expected a SourcesConfigError');
}

describe('sources.yaml', () => {
  it('loads the shipped file: four sources, one per format, paths resolved next to the file', () => {
    const f = loadSources(SHIPPED);
    expect(f.topic).toBe('harmful-domains');
    expect(f.sources.map((s) => [s.name, s.format, s.category])).toEqual([
      ['malware-hosts', 'hosts', 'malware'],
      ['phishing-urls', 'urls', 'phishing'],
      ['malware-urls-csv', 'csv', 'malware_distribution'],
      ['scam-domains', 'domains', 'scam'],
    ]);
    expect(f.sources[0]!.location).toBe(path.join(path.dirname(SHIPPED), 'feeds/malware-hosts.txt'));
    expect(f.sources[2]!.csv).toEqual({ column: 'url', firstSeenColumn: 'dateadded' });
  });

  it('names the source and field of every problem', () => {
    const err = errorOf(() =>
      parseSources(
        {
          sources: {
            good: { format: 'domains', path: 'a.txt', category: 'scam' },
            nofmt: { path: 'a.txt', category: 'scam' },
            both: { format: 'urls', path: 'a', url: 'http://127.0.0.1/x', category: 'phishing' },
            typo: { format: 'hosts', path: 'a', category: 'malware', colum: 'x' },
            csvopt: { format: 'hosts', path: 'a', category: 'malware', column: 'url' },
            badurl: { format: 'urls', url: 'file:///etc/passwd', category: 'phishing' },
          },
        },
        'conf/sources.yaml',
      ),
    );
    expect(err.where).toBe('conf/sources.yaml');
    const text = err.problems.join('\n');
    expect(text).toMatch(/source "nofmt" field "format"/);
    expect(text).toMatch(/source "both": needs exactly one of "path" or "url"/);
    expect(text).toMatch(/source "typo".*"colum"/);
    expect(text).toMatch(/source "csvopt".*apply to format csv only/);
    expect(text).toMatch(/source "badurl" field "url": must be an http/);
    expect(text).not.toMatch(/"good"/);
  });

  it('rejects an empty source list and unknown top-level keys', () => {
    expect(errorOf(() => parseSources({ sources: {} }, 'f')).problems.join()).toMatch(/lists no source/);
    expect(errorOf(() => parseSources({ sources: { a: { format: 'urls', path: 'x', category: 'p' } }, extra: 1 }, 'f')).problems.join()).toMatch(/"extra"/);
  });

  it('reports a missing file and invalid YAML with the path', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sources-'));
    expect(() => loadSources(path.join(dir, 'nope.yaml'))).toThrow(`${path.join(dir, 'nope.yaml')}: sources file does not exist`);
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'sources:\n  a: [unclosed\n');
    expect(() => loadSources(bad)).toThrow(/bad\.yaml: is not valid YAML/);
  });

  it('selects one source by name or lists the valid names', () => {
    const f = loadSources(SHIPPED);
    expect(selectSources(f, 'scam-domains').map((s) => s.name)).toEqual(['scam-domains']);
    expect(selectSources(f)).toHaveLength(4);
    expect(() => selectSources(f, 'nope')).toThrow(/unknown source "nope"; valid names: malware-hosts, phishing-urls, malware-urls-csv, scam-domains/);
  });

  it('leaves disabled sources out of "all" but still selects them by name', () => {
    const f = parseSources({ sources: { a: { format: 'urls', path: 'x', category: 'p' }, b: { format: 'urls', path: 'y', category: 'p', enabled: false } } }, '/c/s.yaml');
    expect(selectSources(f).map((s) => s.name)).toEqual(['a']);
    expect(selectSources(f, 'b')[0]!.location).toBe('/c/y');
  });
});

import { FeedError, parseCsv, parseCsvRecords, parseDomains, parseFeed, parseHosts, parseUrls } from '../../../stack/pipeline/ingestion/feeds';

describe('parseHosts', () => {
  it('reads IP + one or more names, skips comments and localhost boilerplate', () => {
    const p = parseHosts(['# header', '127.0.0.1 localhost', '::1 localhost ip6-localhost', '', '0.0.0.0 a.example b.example # two', '127.0.0.1\tc.example'].join('\n'));
    expect(p.entries.map((e) => [e.value, e.line])).toEqual([
      ['a.example', 5],
      ['b.example', 5],
      ['c.example', 6],
    ]);
    expect(p.malformed).toEqual([]);
    expect(p.skipped).toBe(4);
  });
  it('reports lines without an IP or without a name as malformed', () => {
    const p = parseHosts('0.0.0.0 ok.example\nnot-an-ip bad.example\n0.0.0.0\r\n');
    expect(p.entries).toHaveLength(1);
    expect(p.malformed.map((m) => m.line)).toEqual([2, 3]);
  });
  it('throws a FeedError naming the feed when no line is in hosts format', () => {
    expect(() => parseHosts('just.a.domain\nanother.domain\n', '/feeds/x.txt')).toThrow(/\/feeds\/x\.txt: no line is in the hosts format.*line 1/);
  });
  it('throws on empty and binary feeds', () => {
    expect(() => parseHosts('  \n\n', 'f')).toThrow(new FeedError('is empty', 'f'));
    expect(() => parseHosts('0.0.0.0 a.example\u0000\u0001', 'f')).toThrow(/binary/);
    expect(() => parseHosts('# only comments\n', 'f')).toThrow(/no entries/);
  });
});

describe('parseUrls', () => {
  it('reads one URL per line; whitespace inside a line is malformed', () => {
    const p = parseUrls('# c\nhttps://a.example/x\n\n  http://b.example  \nnot a url\n');
    expect(p.entries.map((e) => e.value)).toEqual(['https://a.example/x', 'http://b.example']);
    expect(p.malformed).toEqual([{ line: 5, text: 'not a url', reason: 'contains whitespace' }]);
  });
});

describe('parseDomains', () => {
  it('reads one domain per line with ! and # comments', () => {
    const p = parseDomains('! adblock header\na.example\nb.example # note\n# c\nc d\n');
    expect(p.entries.map((e) => e.value)).toEqual(['a.example', 'b.example']);
    expect(p.malformed.map((m) => m.line)).toEqual([5]);
  });
});

describe('CSV', () => {
  it('parses quoted fields with delimiters, doubled quotes and line breaks', () => {
    const recs = parseCsvRecords('a,b,c\n1,"x, y","say ""hi"""\r\n2,"multi\nline",z');
    expect(recs).toEqual([
      { fields: ['a', 'b', 'c'], line: 1 },
      { fields: ['1', 'x, y', 'say "hi"'], line: 2 },
      { fields: ['2', 'multi\nline', 'z'], line: 3 },
    ]);
  });
  it('throws on an unterminated quote with its line', () => {
    expect(() => parseCsvRecords('a,b\n1,"open\n2,3\n', ',', 'f.csv')).toThrow(/f\.csv: unterminated quoted field starting on line 2/);
  });
  it('takes the named column (case-insensitive), first-seen dates, and counts short rows as malformed', () => {
    const p = parseCsv('# comment\nid,dateadded,URL\n1,2025-10-01T10:00:00Z,http://a.example/\n2,not a date,http://b.example/\n3,short\n', {
      column: 'url',
      firstSeenColumn: 'dateadded',
    });
    expect(p.entries).toEqual([
      { value: 'http://a.example/', line: 3, firstSeen: Date.parse('2025-10-01T10:00:00Z') },
      { value: 'http://b.example/', line: 4 },
    ]);
    expect(p.malformed).toEqual([{ line: 5, text: '3,short', reason: 'has 2 fields, header has 3' }]);
  });
  it('supports another delimiter', () => {
    const p = parseCsv('host;x\na.example;1\n', { column: 'host', delimiter: ';' });
    expect(p.entries.map((e) => e.value)).toEqual(['a.example']);
  });
  it('fails the feed when the header lacks the column, naming the columns and the line', () => {
    expect(() => parseCsv('# c\nid,link\n1,http://a.example\n', { column: 'url' }, 'feeds/x.csv')).toThrow('feeds/x.csv:2: header has no column "url" (columns: "id", "link")');
    expect(() => parseCsv('url\nhttp://a.example\n', { column: 'url', firstSeenColumn: 'seen' }, 'x')).toThrow(/no column "seen"/);
  });
  it('fails a feed whose rows all have the wrong shape', () => {
    expect(() => parseCsv('id,url\n1\n2\n', { column: 'url' }, 'x')).toThrow(/no line is in the csv format/);
  });
});

describe('parseFeed', () => {
  it('dispatches on the format', () => {
    expect(parseFeed('domains', 'a.example\n').entries).toHaveLength(1);
    expect(parseFeed('csv', 'url\nhttp://a.example\n').entries).toHaveLength(1);
    expect(parseFeed('hosts', '0.0.0.0 a.example\n').entries).toHaveLength(1);
    expect(parseFeed('urls', 'http://a.example\n').entries).toHaveLength(1);
  });
});

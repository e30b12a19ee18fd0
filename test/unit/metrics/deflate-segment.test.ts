/**
 * Kept compressed exposition batches (src/metrics/deflate-segment.ts): segments compressed on
 * their own must join into one gzip member that zlib accepts with its CRC and length checked,
 * and must inflate back to their text one by one.
 */
import * as zlib from 'node:zlib';
import { acceptsGzip, crc32Combine, deflateSegment, gzipChunks, plainBytes, plainLength, tableCrc32, type ExpositionChunk } from '../../../src/metrics/deflate-segment';

/** Deterministic pseudo-random bytes (a linear congruential generator), half text-like. */
function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = i % 2 === 0 ? 0x61 + (x % 26) : x >>> 24;
  }
  return out;
}

describe('crc32Combine', () => {
  it.each([
    [0, 0],
    [0, 17],
    [1, 1],
    [100, 0],
    [3, 4096],
    [65_537, 1_000_003],
  ])('gives the CRC-32 of a %i-byte part followed by a %i-byte one', (a, b) => {
    const partA = bytes(a, a + 1);
    const partB = bytes(b, b + 7);
    expect(crc32Combine(zlib.crc32(partA), zlib.crc32(partB), b)).toBe(zlib.crc32(Buffer.concat([partA, partB])));
  });
});

describe('tableCrc32 (for a Node before 20.15)', () => {
  it.each([0, 1, 255, 70_001])('agrees with zlib.crc32 on %i bytes', (n) => {
    const data = bytes(n, n + 3);
    expect(tableCrc32(data)).toBe(zlib.crc32(data));
  });
});

describe('gzipChunks', () => {
  const text = (s: string): Buffer => Buffer.from(s, 'utf8');
  const lines = (from: number, to: number): Buffer => text(Array.from({ length: to - from }, (_, i) => `x_total{id="${from + i}",é="ü"} ${(from + i) / 3}\n`).join(''));

  it('joins plain chunks and segments compressed apart into one gzip member with the exact text', () => {
    const chunks: ExpositionChunk[] = [
      text('# HELP x_total x\n# TYPE x_total gauge\n'),
      deflateSegment(lines(0, 5000)),
      deflateSegment(lines(5000, 5001)),
      text('\n'),
      text('y 1\n'),
      deflateSegment(lines(5001, 9000)),
    ];
    const expected = Buffer.concat([...plainBytes(chunks)]);
    expect(expected.toString('utf8')).toContain('x_total{id="8999",é="ü"} 2999.6666666666665\n');
    expect(plainLength(chunks)).toBe(expected.length);
    const gz = Buffer.concat(gzipChunks(chunks));
    // gunzipSync checks the trailer's CRC-32 and length and refuses anything after the member
    expect(zlib.gunzipSync(gz).equals(expected)).toBe(true);
    expect(gz.length).toBeLessThan(expected.length / 5);
  });

  it('makes a valid member of nothing', () => {
    expect(zlib.gunzipSync(Buffer.concat(gzipChunks([]))).length).toBe(0);
    expect(zlib.gunzipSync(Buffer.concat(gzipChunks([text('')])))).toEqual(Buffer.alloc(0));
  });

  it('keeps a segment inflatable on its own', () => {
    const raw = lines(0, 300);
    const s = deflateSegment(raw);
    expect(s.inflate().equals(raw)).toBe(true);
    expect(s.length).toBe(raw.length);
    expect(s.crc).toBe(zlib.crc32(raw));
  });

  it('fails zlib’s check when a segment’s CRC does not match its bytes', () => {
    const s = deflateSegment(lines(0, 10));
    const forged = Object.assign(Object.create(Object.getPrototypeOf(s)), s, { crc: (s.crc ^ 1) >>> 0 }) as typeof s;
    expect(() => zlib.gunzipSync(Buffer.concat(gzipChunks([forged])))).toThrow(/incorrect data check/);
  });
});

describe('acceptsGzip', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['deflate, GZIP;q=0.5', true],
    ['x-gzip', true],
    ['*', true],
    ['identity, *;q=0.1', true],
    ['gzip;q=0', false],
    ['gzip; q=0.0, *', false],
    ['*;q=0', false],
    ['deflate, br', false],
    ['identity', false],
    ['', false],
  ])('%j → %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });

  it('reads a header sent twice, and no header', () => {
    expect(acceptsGzip(['br', 'gzip'])).toBe(true);
    expect(acceptsGzip(undefined)).toBe(false);
  });
});

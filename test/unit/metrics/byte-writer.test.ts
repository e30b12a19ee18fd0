/**
 * The byte writer behind the signal gauges' exposition: numbers written digit by digit must be
 * exactly what String() (prom-client's formatting) writes, UTF-8 label text must round-trip, and
 * the buffer must grow past its first size without losing what was written.
 */
import { ByteWriter, PrefixCache, bytesOf } from '../../../src/metrics/byte-writer';
import { formatValue, writeValue } from '../../../src/metrics/snapshot-gauge';

describe('ByteWriter', () => {
  it('writes numbers exactly as String() does: small, large, negative, fractional, -0 and the 15-digit edge', () => {
    const values = [
      0,
      -0,
      1,
      9,
      10,
      99,
      1023,
      1024,
      1025,
      65535,
      -1,
      -1024,
      123456789,
      999999999999999,
      -999999999999999,
      1e15,
      1e16,
      2 ** 53,
      1e21,
      0.5,
      -2.25,
      1 / 3,
      1e-7,
      123.456,
    ];
    // and some random integers of every length
    let seed = 7;
    for (let i = 0; i < 500; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      values.push(Math.floor((seed / 2 ** 31) * 10 ** (i % 16)) * (i % 3 === 0 ? -1 : 1));
    }
    const w = new ByteWriter(16);
    for (const v of values) w.number(v).newline();
    expect(w.take().toString('utf8')).toBe(values.map((v) => `${String(v)}\n`).join(''));
  });

  it('writes the exposition spellings of NaN and infinities through writeValue', () => {
    const w = new ByteWriter(4);
    for (const v of [NaN, Infinity, -Infinity, 42]) {
      writeValue(w, v);
      w.newline();
    }
    expect(w.take().toString('utf8')).toBe([NaN, Infinity, -Infinity, 42].map((v) => `${formatValue(v)}\n`).join(''));
  });

  it('grows past its initial size, keeps UTF-8 text and starts over after take', () => {
    const w = new ByteWriter(8);
    const prefix = bytesOf('m{group="grüße-☃",topic="t",partition="');
    let expected = '';
    for (let p = 0; p < 1000; p++) {
      w.bytes(prefix)
        .number(p)
        .text('"} ')
        .number(p * 3)
        .newline();
      expected += `m{group="grüße-☃",topic="t",partition="${p}"} ${p * 3}\n`;
    }
    expect(w.length).toBe(Buffer.byteLength(expected));
    expect(w.take().toString('utf8')).toBe(expected);
    expect(w.length).toBe(0);
    w.text('again');
    expect(w.take().toString('utf8')).toBe('again');
  });
});

describe('PrefixCache', () => {
  it('encodes a prefix once per pair of values and starts over when it outgrows its limit', () => {
    let built = 0;
    const cache = new PrefixCache((a, b) => {
      built++;
      return `${a}/${b}`;
    }, 3);
    expect(cache.get('g', 't').toString()).toBe('g/t');
    expect(cache.get('g', 't')).toBe(cache.get('g', 't'));
    expect(built).toBe(1);
    cache.get('g', 'u');
    cache.get('h', 't');
    expect(built).toBe(3);
    cache.get('i', 't'); // the fourth: the cache is emptied first
    expect(cache.get('i', 't').toString()).toBe('i/t');
    cache.get('g', 't'); // built again after the reset
    expect(built).toBe(5);
  });
});

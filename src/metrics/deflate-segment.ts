/**
 * Exposition bytes kept compressed. At 200,000 consumer-group partitions the /metrics text is
 * ~46 MB, and a kept rendering beside the next one while it renders was ~90 MB of RSS (bench
 * scenario 8). A batch of lines is kept here as raw deflate blocks ending in a full flush: such a
 * segment starts and ends on a byte boundary with an empty dictionary, so segments compressed
 * at different times concatenate into one valid deflate stream. One gzip member is that stream
 * with a final block, a header and a trailer whose CRC-32 is combined from the segments' own
 * (crc32Combine), so a scrape that accepts gzip (Prometheus does) is sent the kept bytes as they
 * are, and any other client gets them inflated a segment at a time.
 */
import * as zlib from 'node:zlib';

/** The CRC-32 polynomial, reflected. */
const POLY = 0xedb88320;

/** zlib's fastest level: Prometheus text is repetitive enough that it already shrinks ~10×, at ~1 GB/s. */
const LEVEL = 1;

/** Lines compressed on their own: raw deflate blocks ending in a full flush (no final block). */
export class DeflatedSegment {
  constructor(
    readonly deflated: Buffer,
    /** CRC-32 of the uncompressed bytes. */
    readonly crc: number,
    /** Length of the uncompressed bytes. */
    readonly length: number,
  ) {}

  /** The uncompressed bytes. */
  inflate(): Buffer {
    return zlib.inflateRawSync(this.deflated, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  }
}

export function deflateSegment(raw: Uint8Array): DeflatedSegment {
  return new DeflatedSegment(zlib.deflateRawSync(raw, { level: LEVEL, finishFlush: zlib.constants.Z_FULL_FLUSH }), crc32(raw), raw.length);
}

/** CRC-32 (zlib's): node:zlib's own from Node 20.15, `tableCrc32` before it (engines say >=20). */
const crc32: (data: Uint8Array) => number = typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (data) => zlib.crc32(data) : (data) => tableCrc32(data);

let crcTable: Int32Array | null = null;

/** CRC-32, byte by byte through a 256-entry table (for a Node without zlib.crc32). */
export function tableCrc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** What an exposition is made of: text as it is (headers, small metrics) and compressed batches of lines. */
export type ExpositionChunk = Buffer | DeflatedSegment;

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]); // deflate, no name, no mtime, OS unknown
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]); // BFINAL=1, fixed Huffman, end of block

/** The uncompressed length of an exposition. */
export function plainLength(chunks: readonly ExpositionChunk[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/** The exposition as text bytes, one chunk at a time (segments inflated as they are reached). */
export function* plainBytes(chunks: readonly ExpositionChunk[]): Generator<Buffer> {
  for (const c of chunks) yield c instanceof DeflatedSegment ? c.inflate() : c;
}

/** The exposition's text as one buffer (prom-client's metrics(), a small response). */
export function plainBuffer(chunks: readonly ExpositionChunk[]): Buffer {
  return Buffer.concat([...plainBytes(chunks)], plainLength(chunks));
}

/**
 * The exposition as one gzip member: the kept segments as they are, runs of plain chunks
 * compressed on the way (they are the small part: headers, prom-client's metrics).
 */
export function gzipChunks(chunks: readonly ExpositionChunk[]): Buffer[] {
  const out: Buffer[] = [GZIP_HEADER];
  let crc = 0;
  let length = 0;
  const add = (s: DeflatedSegment): void => {
    out.push(s.deflated);
    crc = crc32Combine(crc, s.crc, s.length);
    length += s.length;
  };
  let plain: Buffer[] = [];
  const flushPlain = (): void => {
    if (plain.length === 0) return;
    add(deflateSegment(plain.length === 1 ? plain[0]! : Buffer.concat(plain)));
    plain = [];
  };
  for (const c of chunks) {
    if (c instanceof DeflatedSegment) {
      flushPlain();
      add(c);
    } else if (c.length > 0) plain.push(c);
  }
  flushPlain();
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  out.push(FINAL_EMPTY_BLOCK, trailer);
  return out;
}

// CRC-32 of a concatenation from the parts' CRCs, as zlib's crc32_combine (multiplication of
// polynomials over GF(2) modulo the CRC polynomial, reflected).
const X0 = 0x80000000; // x^0 in the reflected representation

/** a(x)·b(x) mod p(x). */
function multModP(a: number, b: number): number {
  let m = X0;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod p(x) for k = 0..31. */
const X2N: number[] = (() => {
  const table: number[] = [];
  let p = X0 >>> 1; // x^1
  for (let k = 0; k < 32; k++) {
    table.push(p);
    p = multModP(p, p);
  }
  return table;
})();

/** x^(n·2^k) mod p(x). */
function x2nModP(n: number, k: number): number {
  let p = X0;
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** The CRC-32 of A followed by B, from crc(A), crc(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ crcB) >>> 0;
}

/** Whether an Accept-Encoding header admits gzip (`gzip` or `*`, not with q=0). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (!header) return false;
  const value = Array.isArray(header) ? header.join(',') : header;
  let star = false;
  for (const part of value.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const refused = q !== undefined && Number(q.slice(2)) === 0;
    if (name === 'gzip' || name === 'x-gzip') return !refused;
    if (name === '*') star = !refused;
  }
  return star;
}

/**
 * Exposition text written straight into bytes. At 200,000 consumer-group partitions /metrics is
 * ~48 MB; built as strings it cost a rope of pieces, a 48 MB flat string and its 48 MB UTF-8
 * copy per scrape, all on the V8 heap, which made the scrape slow and let the heap grow to
 * several times its live size (bench scenario 8). Written here, a batch of lines is one buffer
 * outside the V8 heap, kept between scrapes and sent as it is.
 */

const NEWLINE = 0x0a;

/** Digits of the integers a label or a sample value needs most (partition numbers, small values), as ASCII bytes. */
const SMALL = 1024;
const smallInts: Uint8Array[] = Array.from({ length: SMALL }, (_, i) => Buffer.from(String(i), 'latin1'));

/** A text that is written as the same bytes many times (a metric's label prefix): encoded once. */
export const bytesOf = (text: string): Buffer => Buffer.from(text, 'utf8');

/**
 * A growing byte buffer. One writer is reused for every batch a gauge renders (`take` copies
 * the written bytes out and starts over), so writing allocates nothing per line.
 */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Bytes as they are (a prefix encoded once with `bytesOf`). */
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** A string, UTF-8 encoded. */
  text(s: string): this {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }

  newline(): this {
    this.ensure(1);
    this.buf[this.pos++] = NEWLINE;
    return this;
  }

  /**
   * A number exactly as `String(v)` writes it (the exposition format's sample value and
   * prom-client's): integers of up to 15 digits digit by digit, anything else through String.
   */
  number(v: number): this {
    if (Number.isInteger(v) && v > -1e15 && v < 1e15) {
      if (v >= 0 && v < SMALL) return this.bytes(smallInts[v]!);
      this.ensure(17);
      let n = v;
      if (n < 0) {
        this.buf[this.pos++] = 0x2d; // '-'
        n = -n;
      }
      let digits = 1;
      for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
      let at = this.pos + digits;
      this.pos = at;
      do {
        this.buf[--at] = 0x30 + (n % 10);
        n = Math.floor(n / 10);
      } while (n > 0);
      return this;
    }
    return this.text(String(v));
  }

  /** The bytes written since the last take, without a copy: valid until the next write or `reset`. */
  written(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Starts over (after `written` was used). */
  reset(): void {
    this.pos = 0;
  }

  /** The bytes written since the last take, as a buffer of their own; the writer starts over. */
  take(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    return out;
  }
}

/**
 * Label prefixes of one metric (`name{group="…",topic="…",partition="`), encoded once and kept
 * by two label values, for series written on every render (a consumer group's partitions). Two
 * levels of maps, so a lookup builds no key string. Emptied when it holds more than `limit`
 * prefixes: those of groups that went away are dropped that way, and rebuilding is cheap.
 */
export class PrefixCache {
  private root = new Map<string, Map<string, Buffer>>();
  private size = 0;

  constructor(
    private readonly build: (a: string, b: string) => string,
    private readonly limit = 100_000,
  ) {}

  get(a: string, b: string): Buffer {
    let byB = this.root.get(a);
    if (!byB) {
      if (this.size >= this.limit) {
        this.root = new Map<string, Map<string, Buffer>>();
        this.size = 0;
      }
      this.root.set(a, (byB = new Map<string, Buffer>()));
    }
    let prefix = byB.get(b);
    if (!prefix) {
      byB.set(b, (prefix = bytesOf(this.build(a, b))));
      this.size++;
    }
    return prefix;
  }
}

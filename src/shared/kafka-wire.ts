/**
 * Reads Kafka's wire types from a buffer: big-endian integers, int16-length strings, and the
 * flexible-version forms (unsigned varints, compact strings and arrays, tagged fields). Shared by
 * the `__consumer_offsets` record decoder (streams/) and the batched OffsetFetch (checks/).
 * Every read checks the bounds first; a short or malformed buffer throws the caller's error type
 * with what was being read and at which byte, never a RangeError from Buffer.
 */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

export class KafkaWireReader {
  private pos = 0;

  /**
   * @param what names the buffer in errors ("offsets value", "OffsetFetch v8 answer")
   * @param fail builds the error the caller's layer throws
   */
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
    private readonly fail: (message: string) => Error,
  ) {}

  private need(n: number, field: string): void {
    if (this.pos + n > this.buf.length) throw this.fail(`${this.what}: truncated at byte ${this.pos} reading ${field} (${this.buf.length} bytes)`);
  }

  int16(field: string): number {
    this.need(2, field);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(field: string): number {
    this.need(4, field);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(field: string): number {
    this.need(8, field);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    if (v > MAX_SAFE || v < MIN_SAFE) throw this.fail(`${this.what}: ${field} ${v} does not fit a safe integer`);
    return Number(v);
  }

  uvarint(field: string): number {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) throw this.fail(`${this.what}: varint ${field} is too long`);
      this.need(1, field);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
  }

  /** int16 length + UTF-8; null for length -1. */
  string(field: string): string | null {
    const len = this.int16(`${field} length`);
    if (len < 0) return null;
    return this.utf8(len, field);
  }

  /** Unsigned varint (length + 1) + UTF-8; null for 0. */
  compactString(field: string): string | null {
    const n = this.uvarint(`${field} length`);
    return n === 0 ? null : this.utf8(n - 1, field);
  }

  /** Element count of a compact array; a null array (0) reads as empty. */
  compactArrayLength(field: string): number {
    const n = this.uvarint(`${field} count`);
    return n === 0 ? 0 : n - 1;
  }

  /** Skips a tagged-field section (count, then tag, size and bytes of each). */
  skipTaggedFields(field: string): void {
    const count = this.uvarint(`${field} tagged fields`);
    for (let i = 0; i < count; i += 1) {
      this.uvarint(`${field} tag`);
      const size = this.uvarint(`${field} tag size`);
      this.need(size, `${field} tag`);
      this.pos += size;
    }
  }

  private utf8(len: number, field: string): string {
    this.need(len, field);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

import {
  OffsetsDecodeError,
  decodeConsumerOffsetsRecord,
  decodeOffsetsKey,
  decodeOffsetsValue,
  encodeGroupMetadataKey,
  encodeOffsetsKey,
  encodeOffsetsValue,
} from '../../../streams/consumer-offsets-codec';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
const TS = 1_700_000_000_000; // 0x0000018bcfe56800

describe('__consumer_offsets decoder (hand-built fixtures per the Kafka format)', () => {
  const keyV1 = hex('0001 | 0002 6731 | 0001 74 | 00000003'); // group "g1", topic "t", partition 3

  it('decodes an offset-commit key v0 and v1', () => {
    expect(decodeOffsetsKey(keyV1)).toEqual({ group: 'g1', topic: 't', partition: 3 });
    expect(decodeOffsetsKey(hex('0000 | 0001 61 | 0003 626262 | 0000000a'))).toEqual({ group: 'a', topic: 'bbb', partition: 10 });
  });

  it('skips group metadata keys (v2) and KIP-848 records (v3+)', () => {
    expect(decodeOffsetsKey(hex('0002 | 0002 6731'))).toBeNull();
    expect(decodeOffsetsKey(hex('0005 | 0002 6731'))).toBeNull();
    expect(decodeConsumerOffsetsRecord(hex('0002 0002 6731'), hex('0003 00'))).toBeNull();
  });

  it('decodes value v0 / v2: offset, metadata, commit timestamp', () => {
    const v0 = hex('0000 | 000000000000002a | 0000 | 0000018bcfe56800');
    expect(decodeOffsetsValue(v0)).toEqual({ offset: 42, leaderEpoch: null, metadata: '', commitTimestamp: TS, expireTimestamp: null });
    const v2 = hex('0002 | 0000000000000001 | ffff | 0000018bcfe56800'); // null metadata
    expect(decodeOffsetsValue(v2)).toMatchObject({ offset: 1, metadata: '' });
  });

  it('decodes value v1 with the expire timestamp', () => {
    const v1 = hex('0001 | 0000000000000005 | 0001 6d | 0000018bcfe56800 | 0000018bcfee8fc0');
    expect(decodeOffsetsValue(v1)).toEqual({ offset: 5, leaderEpoch: null, metadata: 'm', commitTimestamp: TS, expireTimestamp: TS + 600_000 });
  });

  it('decodes value v3 with the leader epoch', () => {
    const v3 = hex('0003 | 000000000000002a | 00000007 | 0000 | 0000018bcfe56800');
    expect(decodeOffsetsValue(v3)).toEqual({ offset: 42, leaderEpoch: 7, metadata: '', commitTimestamp: TS, expireTimestamp: null });
    const noEpoch = hex('0003 | 000000000000002a | ffffffff | 0000 | 0000018bcfe56800');
    expect(decodeOffsetsValue(noEpoch).leaderEpoch).toBeNull();
  });

  it('decodes value v4 (flexible: compact string, tagged fields)', () => {
    const v4 = hex('0004 | 000000000000002a | ffffffff | 03 6162 | 0000018bcfe56800 | 00');
    expect(decodeOffsetsValue(v4)).toEqual({ offset: 42, leaderEpoch: null, metadata: 'ab', commitTimestamp: TS, expireTimestamp: null });
  });

  it('turns a record into a commit event, and a tombstone into a delete', () => {
    const value = hex('0003 | 000000000000002a | 00000007 | 0000 | 0000018bcfe56800');
    expect(decodeConsumerOffsetsRecord(keyV1, value)).toEqual({
      type: 'commit',
      group: 'g1',
      topic: 't',
      partition: 3,
      offset: 42,
      leaderEpoch: 7,
      metadata: '',
      commitTimestamp: TS,
      expireTimestamp: null,
    });
    expect(decodeConsumerOffsetsRecord(keyV1, null)).toEqual({ type: 'delete', group: 'g1', topic: 't', partition: 3 });
    expect(decodeConsumerOffsetsRecord(null, value)).toBeNull();
  });

  it('names the field and byte of malformed input', () => {
    expect(() => decodeOffsetsKey(hex('0001 0005 6731'))).toThrow(new OffsetsDecodeError('offsets key: truncated at byte 4 reading group (6 bytes)'));
    expect(() => decodeOffsetsValue(hex('0009 00'))).toThrow('offsets value: unknown value version 9');
    expect(() => decodeOffsetsValue(hex('0003 0000'))).toThrow(/truncated at byte 2 reading offset/);
    expect(() => decodeOffsetsKey(hex('7fff'))).toThrow('unknown key version 32767');
    expect(() => decodeOffsetsKey(hex('00'))).toThrow(/reading key version/);
  });

  it('the fixture encoders write exactly those bytes (round trip)', () => {
    expect(encodeOffsetsKey(1, { group: 'g1', topic: 't', partition: 3 })).toEqual(keyV1);
    expect(encodeOffsetsValue(4, { offset: 42, metadata: 'ab', commitTimestamp: TS })).toEqual(hex('0004 000000000000002a ffffffff 03 6162 0000018bcfe56800 00'));
    expect(encodeGroupMetadataKey('g1')).toEqual(hex('0002 0002 6731'));
    for (const version of [0, 1, 2, 3, 4] as const) {
      const v = { offset: 123_456_789_012, leaderEpoch: 3, metadata: 'üñí', commitTimestamp: TS, expireTimestamp: TS + 1 };
      const decoded = decodeOffsetsValue(encodeOffsetsValue(version, v));
      expect(decoded.offset).toBe(v.offset);
      expect(decoded.metadata).toBe(v.metadata);
      expect(decoded.commitTimestamp).toBe(TS);
      expect(decoded.leaderEpoch).toBe(version >= 3 ? 3 : null);
      expect(decoded.expireTimestamp).toBe(version === 1 ? TS + 1 : null);
    }
  });
});

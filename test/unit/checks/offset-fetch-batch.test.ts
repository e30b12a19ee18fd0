import { createBatchOffsetFetcher, decodeOffsetFetchV8, encodeOffsetFetchV8 } from '../../../checks/offset-fetch-batch';
import { isSupervisorError } from '../../../src/protocol';

/** Builds OffsetFetch v8 response bodies byte by byte, as a broker would. */
function responseBody(groups: Array<{ id: string; error?: number; topics: Array<{ name: string; partitions: Array<{ p: number; offset: bigint; error?: number }> }> }>): Buffer {
  const parts: Buffer[] = [];
  const u8 = (...b: number[]): void => void parts.push(Buffer.from(b));
  const i16 = (v: number): void => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    parts.push(b);
  };
  const i32 = (v: number): void => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    parts.push(b);
  };
  const i64 = (v: bigint): void => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    parts.push(b);
  };
  const str = (s: string): void => {
    u8(Buffer.byteLength(s) + 1);
    parts.push(Buffer.from(s));
  };
  u8(0); // response header tagged fields
  i32(0); // throttle
  u8(groups.length + 1);
  for (const g of groups) {
    str(g.id);
    u8(g.topics.length + 1);
    for (const t of g.topics) {
      str(t.name);
      u8(t.partitions.length + 1);
      for (const p of t.partitions) {
        i32(p.p);
        i64(p.offset);
        i32(-1); // leader epoch
        u8(0); // metadata: null
        i16(p.error ?? 0);
        u8(0);
      }
      u8(0);
    }
    i16(g.error ?? 0);
    u8(0);
  }
  u8(0);
  return Buffer.concat(parts);
}

describe('OffsetFetch v8 encoding', () => {
  it('writes the header tag section, compact arrays and strings, and a null topic list', () => {
    const bytes = encodeOffsetFetchV8([
      { groupId: 'g1', topics: [{ topic: 't', partitions: [0, 2] }] },
      { groupId: 'g2', topics: null },
    ]);
    expect([...bytes]).toEqual([
      0, // request header v2: no tagged fields
      3, // two groups (compact: n + 1)
      3,
      0x67,
      0x31, // "g1"
      2, // one topic
      2,
      0x74, // "t"
      3,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      2, // partitions [0, 2]
      0, // topic tags
      0, // group tags
      3,
      0x67,
      0x32, // "g2"
      0, // topics: null (every committed partition)
      0, // group tags
      0, // require_stable false
      0, // request tags
    ]);
  });

  it('writes lengths over 127 as multi-byte varints', () => {
    const groupId = 'g'.repeat(200);
    const bytes = encodeOffsetFetchV8([{ groupId, topics: null }]);
    // 201 = 0b1_1001001 → 0xc9 0x01
    expect([...bytes.subarray(0, 4)]).toEqual([0, 2, 0xc9, 0x01]);
    expect(bytes.subarray(4, 204).toString()).toBe(groupId);
  });
});

describe('OffsetFetch v8 decoding', () => {
  it('reads every group, topic and partition; -1 stays -1', () => {
    const answer = decodeOffsetFetchV8(
      responseBody([
        {
          id: 'a',
          topics: [
            {
              name: 'orders',
              partitions: [
                { p: 0, offset: 42n },
                { p: 1, offset: -1n },
              ],
            },
          ],
        },
        {
          id: 'b',
          topics: [
            { name: 'orders', partitions: [{ p: 0, offset: 9_007_199_254_740n }] },
            { name: 'x', partitions: [] },
          ],
        },
      ]),
    );
    expect(answer.failed).toEqual([]);
    expect(answer.groups).toEqual([
      {
        groupId: 'a',
        topics: [
          {
            topic: 'orders',
            partitions: [
              { partition: 0, offset: 42 },
              { partition: 1, offset: -1 },
            ],
          },
        ],
      },
      {
        groupId: 'b',
        topics: [
          { topic: 'orders', partitions: [{ partition: 0, offset: 9_007_199_254_740 }] },
          { topic: 'x', partitions: [] },
        ],
      },
    ]);
  });

  it('puts groups answered with a group or partition error in `failed`, with the code', () => {
    const answer = decodeOffsetFetchV8(
      responseBody([
        { id: 'ok', topics: [] },
        { id: 'moved', error: 16, topics: [] },
        {
          id: 'partly',
          topics: [
            {
              name: 't',
              partitions: [
                { p: 0, offset: 1n },
                { p: 1, offset: 0n, error: 88 },
              ],
            },
          ],
        },
      ]),
    );
    expect(answer.groups.map((g) => g.groupId)).toEqual(['ok']);
    expect(answer.failed).toEqual([
      { groupId: 'moved', errorCode: 16 },
      { groupId: 'partly', errorCode: 88 },
    ]);
  });

  it('names the field and byte where a truncated answer ends', () => {
    const full = responseBody([{ id: 'a', topics: [{ name: 'orders', partitions: [{ p: 0, offset: 42n }] }] }]);
    let caught: unknown;
    try {
      decodeOffsetFetchV8(full.subarray(0, full.length - 14));
    } catch (err) {
      caught = err;
    }
    expect(isSupervisorError(caught)).toBe(true);
    expect((caught as Error).message).toMatch(/^OffsetFetch v8 answer: truncated at byte \d+ reading committed_offset \(\d+ bytes\)$/);
  });
});

describe('createBatchOffsetFetcher', () => {
  const broker = (nodeId: number, maxVersion: number, sent: unknown[][]) => ({
    nodeId,
    versions: { 9: { minVersion: 0, maxVersion } },
    connectionPool: {
      send: async (req: { request: { encode(): Promise<{ buffer: Buffer }> }; response: { decode(b: Buffer): Promise<unknown> } }) => {
        const payload = (await req.request.encode()).buffer;
        sent.push([nodeId, payload]);
        // answer every requested group with no commits
        const ids: string[] = [];
        let o = 2;
        for (let g = 0; g < payload[1]! - 1; g += 1) {
          const len = payload[o]! - 1;
          ids.push(payload.toString('utf8', o + 1, o + 1 + len));
          o += 1 + len + 2; // topics null + group tags
        }
        return req.response.decode(responseBody(ids.map((id) => ({ id, topics: [] }))));
      },
    },
  });

  it('is null when the coordinator does not offer v8', async () => {
    const old = broker(1, 7, []);
    expect(await createBatchOffsetFetcher({ findGroupCoordinator: async () => old }, 'g')).toBeNull();
  });

  it('sends one request per coordinator and chunk, and names unbatchable groups', async () => {
    const sent: unknown[][] = [];
    const b1 = broker(1, 9, sent);
    const b2 = broker(2, 9, sent);
    const legacy = broker(3, 4, sent);
    const where: Record<string, unknown> = { a1: b1, a2: b1, a3: b1, b1: b2, c1: legacy };
    const fetch = await createBatchOffsetFetcher({ findGroupCoordinator: async ({ groupId }) => where[groupId] }, 'a1', { groupsPerRequest: 2 });
    const answer = await fetch!(Object.keys(where).map((groupId) => ({ groupId, topics: null })));
    expect(answer.requests).toBe(3); // b1: [a1, a2], [a3]; b2: [b1]
    expect(sent.map((s) => s[0]).sort()).toEqual([1, 1, 2]);
    expect(answer.groups.map((g) => g.groupId).sort()).toEqual(['a1', 'a2', 'a3', 'b1']);
    expect(answer.failed).toEqual([{ groupId: 'c1', errorCode: 35 }]);
  });
});

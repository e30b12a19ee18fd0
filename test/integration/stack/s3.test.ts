/**
 * The stack's S3-compatible server against @aws-sdk/client-s3 with path-style addressing:
 * the `delta-lake` bucket exists; put, list (StartAfter), get, delete under a fresh prefix.
 */
import { DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { freshPrefix } from '../../helpers/names';
import { STACK_TIMEOUT_MS, endpoints, ensureServices, s3Client } from '../../helpers/stack';

jest.setTimeout(60_000);

describe('local stack: s3', () => {
  let s3: S3Client;
  beforeAll(async () => {
    await ensureServices(['s3']);
    s3 = s3Client();
  }, STACK_TIMEOUT_MS);
  afterAll(() => s3?.destroy());

  it('has the delta-lake bucket and round-trips objects', async () => {
    const Bucket = endpoints.s3Bucket;
    await expect(s3.send(new HeadBucketCommand({ Bucket }))).resolves.toBeDefined();

    const prefix = freshPrefix('stack-s3');
    const keys = [0, 1, 2].map((v) => `${prefix}_delta_log/${String(v).padStart(20, '0')}.json`);
    for (const [i, Key] of keys.entries()) {
      await s3.send(new PutObjectCommand({ Bucket, Key, Body: JSON.stringify({ commitInfo: { version: i } }), ContentType: 'application/json' }));
    }

    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}_delta_log/`, StartAfter: keys[0] }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(keys.slice(1));
    expect(listed.Contents?.every((o) => o.LastModified instanceof Date)).toBe(true);

    const got = await s3.send(new GetObjectCommand({ Bucket, Key: keys[2] }));
    expect(JSON.parse(await got.Body!.transformToString())).toEqual({ commitInfo: { version: 2 } });

    await expect(s3.send(new GetObjectCommand({ Bucket, Key: `${prefix}missing` }))).rejects.toMatchObject({ name: 'NoSuchKey' });

    await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    const after = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
    expect(after.KeyCount ?? 0).toBe(0);
  });
});

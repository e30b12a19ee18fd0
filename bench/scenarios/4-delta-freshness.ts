/**
 * Scenario 4 — Delta freshness on 10 / 1,000 / 10,000-commit tables: S3 requests and time per check.
 * Tables are minimal valid Delta logs written straight to the stack's S3 (bench/lib/delta.ts).
 */
import { DeleteObjectsCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { createDeltaFreshnessCheck } from '../../checks/delta-freshness';
import type { DeltaFacts, Signal } from '../../src/protocol';
import { exists, writeDeltaLog, commitBody } from '../lib/delta';
import { ensureStack, endpoints, s3Options, stackS3Client } from '../lib/stack';
import { median, round } from '../lib/stats';
import type { Row, Scenario, ScenarioContext } from '../lib/types';
import { PutObjectCommand } from '@aws-sdk/client-s3';

const SIZES = [10, 1_000, 10_000];
const CHECKPOINT_EVERY = 10; // Delta Lake's default delta.checkpointInterval
const pad = (v: number): string => String(v).padStart(20, '0');

async function probeOnce(check: ReturnType<typeof createDeltaFreshnessCheck>): Promise<{ requests: number; ms: number; signal: Signal }> {
  const t0 = performance.now();
  const [signal] = await check.probe({ signal: new AbortController().signal, now: () => Date.now() });
  const ms = performance.now() - t0;
  if (!signal || signal.status === 'unknown') throw new Error(`delta check failed: ${signal?.summary ?? 'no signal'} ${signal?.error?.message ?? ''}`);
  return { requests: (signal.facts as DeltaFacts).requests, ms, signal };
}

export const scenario: Scenario = {
  id: '4',
  title: 'Delta freshness: S3 requests and time per check',
  goal: '≤ 3 requests at every size',
  limits:
    'A check is one GET of `_delta_log/_last_checkpoint`, one ListObjectsV2 starting after the checkpoint (or the last version seen), one GET of the newest commit; the steady state needs no GET of an unchanged commit. ' +
    'Without any checkpoint the first check on a long log has to find the end of a listing that pages at 1,000 keys: it probes ahead exponentially then bisects, so the cold no-checkpoint count grows with log(length) — writers that checkpoint (Spark and delta-rs do by default for long logs) never hit that path, and after the first run the reader remembers the newest version it saw. Time is not the check’s: the stack’s s3proxy (filesystem backend) answers a ListObjectsV2 with StartAfter by scanning the whole `_delta_log` directory — a bare ListObjectsV2 returning 6 keys takes 3–120 ms on the 10/1,000-commit logs and 1.1–1.5 s on the 10,000-commit one (measured with the SDK alone, no check involved); S3 proper serves StartAfter from its index.',
  async run(ctx: ScenarioContext): Promise<Row[]> {
    await ensureStack(['s3'], ctx.log);
    const s3 = stackS3Client();
    const bucket = endpoints.s3Bucket;
    const rows: Row[] = [];
    try {
      for (const size of SIZES) {
        const prefix = `bench/delta-freshness/n${size}`;
        const path = `s3a://${bucket}/${prefix}`;
        // The log is written once and reused by later runs (the last commit doubles as the marker).
        const t0 = performance.now();
        if (!(await exists(s3, bucket, `${prefix}/_delta_log/${pad(size - 1)}.json`))) {
          ctx.log(`writing a ${size}-commit Delta log to ${path}…`);
          await writeDeltaLog(s3, bucket, prefix, 0, size);
          ctx.log(`  written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        }
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}/_delta_log/_last_checkpoint` }));
        const make = () => createDeltaFreshnessCheck({ name: `bench_delta_${size}`, options: { path, maxAge: 3600, s3: s3Options() } });

        // cold, no checkpoint at all: the reader lists from version 0
        const coldNo: { requests: number; ms: number }[] = [];
        for (let i = 0; i < ctx.reps; i++) {
          const c = make();
          coldNo.push(await probeOnce(c));
          await c.close();
        }
        // cold with _last_checkpoint (what Spark/delta-rs writers leave behind)
        const cp = Math.floor((size - 1) / CHECKPOINT_EVERY) * CHECKPOINT_EVERY;
        if (cp > 0) {
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/_delta_log/${pad(cp)}.checkpoint.parquet`, Body: 'PAR1' }));
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/_delta_log/_last_checkpoint`, Body: JSON.stringify({ version: cp, size: 1 }) }));
        }
        const cold: { requests: number; ms: number }[] = [];
        for (let i = 0; i < ctx.reps; i++) {
          const c = make();
          cold.push(await probeOnce(c));
          await c.close();
        }
        // steady state: the same check probing again with nothing new
        const check = make();
        await probeOnce(check);
        const warm: { requests: number; ms: number }[] = [];
        for (let i = 0; i < ctx.reps; i++) warm.push(await probeOnce(check));
        // one new commit between two probes
        const added: string[] = [];
        const fresh: { requests: number; ms: number }[] = [];
        for (let i = 0; i < ctx.reps; i++) {
          const v = size + i;
          const key = `${prefix}/_delta_log/${pad(v)}.json`;
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: commitBody(v, Date.now()) }));
          added.push(key);
          const r = await probeOnce(check);
          if ((r.signal.facts as DeltaFacts).version !== v) throw new Error(`expected version ${v}, check saw ${(r.signal.facts as DeltaFacts).version}`);
          fresh.push(r);
        }
        await check.close();
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: added.map((Key) => ({ Key })) } }));

        const label = size.toLocaleString('en-US');
        const mk = (metric: string, unit: string, samples: { requests: number; ms: number }[], pick: 'requests' | 'ms', goalApplies: boolean, method: string): Row => {
          const values = samples.map((s) => s[pick]);
          const v = pick === 'requests' ? Math.max(...values) : round(median(values), 1);
          return {
            scenario: '4',
            metric: `${label} commits — ${metric}`,
            unit,
            supervisor: v,
            peers: {},
            ratio: null,
            goal: goalApplies ? '≤ 3' : '—',
            met: goalApplies ? v <= 3 : null,
            method,
            detail: { samples: values },
          };
        };
        const how = `createDeltaFreshnessCheck on s3a://${bucket}/${prefix} (s3proxy on loopback); requests = the signal's facts.requests (the ObjectStore's request counter); time = wall time of probe(); ${ctx.reps} repetitions`;
        rows.push(mk('requests, first check (with _last_checkpoint)', 'requests', cold, 'requests', true, `${how}; a new check instance each repetition; max over repetitions`));
        rows.push(mk('requests, steady state (nothing new)', 'requests', warm, 'requests', true, `${how}; the same instance probing again; max over repetitions`));
        rows.push(mk('requests, one new commit since last check', 'requests', fresh, 'requests', true, `${how}; one commit PUT before each probe; max over repetitions`));
        rows.push(
          mk(
            'requests, first check, no checkpoint ever written',
            'requests',
            coldNo,
            'requests',
            false,
            `${how}; _last_checkpoint deleted; max over repetitions (informational: real writers checkpoint)`,
          ),
        );
        rows.push(mk('time, first check (with _last_checkpoint)', 'ms', cold, 'ms', false, `${how}; median`));
        rows.push(mk('time, one new commit since last check', 'ms', fresh, 'ms', false, `${how}; median`));
        ctx.log(
          `n=${size}: cold ${cold.map((c) => c.requests).join('/')} req, warm ${warm.map((c) => c.requests).join('/')} req, new ${fresh.map((c) => c.requests).join('/')} req, no-ckpt ${coldNo.map((c) => c.requests).join('/')} req; cold ${round(median(cold.map((c) => c.ms)), 1)} ms`,
        );
      }
    } finally {
      s3.destroy();
    }
    return rows;
  },
};

import { Subject, firstValueFrom } from 'rxjs';
import { createSignalState$, reduceSignal, emptySignalState, signalKey, type SignalState } from '../../../streams/signal-state';
import type { Signal, Status } from '../../../src/protocol';
import { recordingLogger } from '../../helpers/recording-logger';

function sig(check: string, target: string, status: Status, observedAt: number, labels: Record<string, string> = {}): Signal {
  return { check, kind: 'consumer_lag', target, labels, status, observedAt, durationMs: 1, summary: `${target} is ${status}` };
}

describe('signal state', () => {
  it('keys by check, target and sorted labels', () => {
    expect(signalKey(sig('lag', 'g', 'ok', 0, { b: '2', a: '1' }))).toBe('lag|g|a=1,b=2');
  });

  it('keeps the latest per key; the worst status wins', () => {
    let s = emptySignalState();
    s = reduceSignal(s, sig('kafka', 'local', 'ok', 10));
    s = reduceSignal(s, sig('lag', 'g1', 'warn', 10));
    s = reduceSignal(s, sig('lag', 'g2', 'ok', 10));
    expect(s.summary).toEqual({ status: 'warn', counts: { ok: 2, warn: 1, unknown: 0, crit: 0 }, checks: 2 });
    s = reduceSignal(s, sig('kafka', 'local', 'crit', 20));
    expect(s.summary.status).toBe('crit');
    expect(s.signals.size).toBe(3);
    expect(s.updatedAt).toBe(20);
  });

  it('drops targets a newer run of the same check no longer reports', () => {
    let s = emptySignalState();
    s = reduceSignal(s, sig('lag', 'g1', 'ok', 10));
    s = reduceSignal(s, sig('lag', 'g2', 'ok', 10));
    s = reduceSignal(s, sig('kafka', 'local', 'ok', 10));
    // next run: Kafka unreachable, one check-wide unknown
    s = reduceSignal(s, sig('lag', '*', 'unknown', 20));
    expect([...s.signals.keys()].sort()).toEqual(['kafka|local|', 'lag|*|']);
    // recovery run with two signals of the same observedAt
    s = reduceSignal(s, sig('lag', 'g1', 'ok', 30));
    s = reduceSignal(s, sig('lag', 'g2', 'warn', 30));
    expect([...s.signals.keys()].sort()).toEqual(['kafka|local|', 'lag|g1|', 'lag|g2|']);
    expect(s.summary.status).toBe('warn');
  });

  it('emits shared state and logs transitions only', async () => {
    const input = new Subject<Signal>();
    const logger = recordingLogger();
    const state$ = createSignalState$(input.asObservable(), { logger });
    const seen: SignalState[] = [];
    const sub = state$.subscribe((s) => seen.push(s));
    input.next(sig('kafka', 'local', 'ok', 1));
    input.next(sig('kafka', 'local', 'ok', 2));
    input.next(sig('kafka', 'local', 'warn', 3));
    input.next(sig('kafka', 'local', 'warn', 4));
    input.next(sig('kafka', 'local', 'ok', 5));
    expect(seen).toHaveLength(5);
    expect(logger.lines.map((l) => `${l.level}:${l.msg.split(' — ')[0]}`)).toEqual([
      'debug:kafka local: now OK (was not seen)',
      'warn:kafka local: now WARN (was OK)',
      'info:kafka local: now OK (was WARN)',
    ]);
    // a late subscriber gets the current state at once
    const late = await firstValueFrom(state$);
    expect(late.summary.status).toBe('ok');
    expect(late.signals.get('kafka|local|')?.observedAt).toBe(5);
    sub.unsubscribe();
  });

  it('a multi-target check logs no transition for targets whose status did not change between runs', () => {
    const input = new Subject<Signal>();
    const logger = recordingLogger();
    const sub = createSignalState$(input.asObservable(), { logger }).subscribe();
    for (const at of [1, 2, 3]) {
      input.next(sig('lag', 'g1', 'crit', at));
      input.next(sig('lag', 'g2', 'crit', at));
      input.next(sig('lag', 'g3', at === 3 ? 'ok' : 'crit', at));
    }
    // a target that a run no longer reports and a later one reports again is new again
    input.next(sig('lag', 'g1', 'crit', 4));
    input.next(sig('lag', 'g1', 'crit', 5));
    input.next(sig('lag', 'g2', 'crit', 5));
    expect(logger.lines.map((l) => `${l.level}:${l.msg.split(' — ')[0]}`)).toEqual([
      'warn:lag g1: now CRIT (was not seen)',
      'warn:lag g2: now CRIT (was not seen)',
      'warn:lag g3: now CRIT (was not seen)',
      'info:lag g3: now OK (was CRIT)',
      'warn:lag g2: now CRIT (was not seen)',
    ]);
    sub.unsubscribe();
  });
});

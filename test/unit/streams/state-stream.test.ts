/** state$ (streams/signal-state.ts) and runEvents$ (streams/run-events.ts): shared, replaying streams. */
import { Observable, Subject } from 'rxjs';
import { createRunEvents$ } from '../../../streams/run-events';
import { createSignalState$, signalChanges$, type SignalState } from '../../../streams/signal-state';
import type { RunEvent, Signal, Status } from '../../../src/protocol';

function sig(check: string, target: string, status: Status, observedAt: number): Signal {
  return { check, kind: 'spark', target, labels: {}, status, observedAt, durationMs: 1, summary: `${target} is ${status}` };
}

function counted<T>(source$: Observable<T>): { source$: Observable<T>; live: () => number; total: () => number } {
  let live = 0;
  let total = 0;
  const wrapped = new Observable<T>((subscriber) => {
    live += 1;
    total += 1;
    const s = source$.subscribe(subscriber);
    return () => {
      live -= 1;
      s.unsubscribe();
    };
  });
  return { source$: wrapped, live: () => live, total: () => total };
}

describe('state$', () => {
  it('replays the latest state to a late subscriber', () => {
    const input = new Subject<Signal>();
    const state$ = createSignalState$(input.asObservable());
    const sub = state$.subscribe();
    input.next(sig('a', 't', 'ok', 1));
    input.next(sig('a', 't', 'warn', 2));
    const late: SignalState[] = [];
    const lateSub = state$.subscribe((s) => late.push(s));
    expect(late).toHaveLength(1);
    expect(late[0]?.signals.get('a|t|')?.status).toBe('warn');
    lateSub.unsubscribe();
    sub.unsubscribe();
  });

  it('emits only on a real change: an identical repeat keeps the version', () => {
    const input = new Subject<Signal>();
    const seen: SignalState[] = [];
    const sub = createSignalState$(input.asObservable()).subscribe((s) => seen.push(s));
    const s1 = sig('a', 't', 'ok', 1);
    input.next(s1);
    input.next({ ...s1 });
    input.next(sig('a', 't', 'ok', 2));
    expect(seen.map((s) => s.version)).toEqual([1, 2]);
    expect(seen[1]?.changed).toEqual([sig('a', 't', 'ok', 2)]);
    sub.unsubscribe();
  });

  it('one upstream subscription for many consumers; unsubscribes upstream when the last leaves', () => {
    const input = counted(new Subject<Signal>().asObservable());
    const state$ = createSignalState$(input.source$);
    const subs = [state$.subscribe(), state$.subscribe(), state$.subscribe()];
    expect(input.total()).toBe(1);
    subs[0]?.unsubscribe();
    subs[1]?.unsubscribe();
    expect(input.live()).toBe(1);
    subs[2]?.unsubscribe();
    expect(input.live()).toBe(0);
  });

  it('signalChanges$: every current signal first, then each change', () => {
    const input = new Subject<Signal>();
    const state$ = createSignalState$(input.asObservable());
    const keep = state$.subscribe();
    input.next(sig('a', 't1', 'ok', 1));
    input.next(sig('b', 't2', 'crit', 1));
    const got: string[] = [];
    const sub = signalChanges$(state$).subscribe((s) => got.push(`${s.check}:${s.status}`));
    input.next(sig('a', 't1', 'warn', 2));
    input.next(sig('a', 't1', 'warn', 2)); // identical: no change, not repeated
    expect(got).toEqual(['a:ok', 'b:crit', 'a:warn']);
    sub.unsubscribe();
    keep.unsubscribe();
  });
});

describe('runEvents$', () => {
  const ev = (runId: string): RunEvent => ({ type: 'run', runId, pipeline: 'p', logicalDate: 0, trigger: 'manual', state: 'running', at: 0 });

  it('shares one upstream subscription, replays the latest event, unsubscribes with the last consumer', () => {
    const source = new Subject<RunEvent>();
    const input = counted(source.asObservable());
    const runEvents$ = createRunEvents$(input.source$);
    const first: string[] = [];
    const a = runEvents$.subscribe((e) => first.push(e.runId));
    source.next(ev('r1'));
    source.next(ev('r2'));
    const late: string[] = [];
    const b = runEvents$.subscribe((e) => late.push(e.runId));
    source.next(ev('r3'));
    expect(first).toEqual(['r1', 'r2', 'r3']);
    expect(late).toEqual(['r2', 'r3']);
    expect(input.total()).toBe(1);
    a.unsubscribe();
    b.unsubscribe();
    expect(input.live()).toBe(0);
  });
});

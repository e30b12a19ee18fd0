/** alerts/silence-set.ts: the in-memory compiled silences, when they are re-read, and which labels they mute. */
import { SilenceSet } from '../../../alerts/silence-set';
import type { Silence, SilenceStore } from '../../../src/protocol';
import { recordingLogger } from './module-fakes';

const S = 1000;

class FakeSilenceStore implements Pick<SilenceStore, 'listSilences' | 'onChange'> {
  silences: Silence[] = [];
  reads = 0;
  fail = false;
  listeners: Array<() => void> = [];

  listSilences(): Silence[] {
    this.reads += 1;
    if (this.fail) throw new Error('database is locked');
    return this.silences;
  }
  onChange(listener: () => void): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }
  change(): void {
    for (const l of this.listeners) l();
  }
}

function silence(id: string, matchers: Record<string, string>, startsAt = 0, endsAt = 3_600 * S): Silence {
  return { id, matchers, startsAt, endsAt, createdBy: 'test', comment: '' };
}

function setup(refreshMs = 5 * S) {
  const store = new FakeSilenceStore();
  const logger = recordingLogger();
  let readErrors = 0;
  const set = new SilenceSet({ store, logger, refreshMs, onReadError: () => (readErrors += 1) });
  return { store, logger, set, readErrors: () => readErrors };
}

describe('SilenceSet', () => {
  it('silencedBy lists the ids of the silences active now whose matchers (exact or ~regex) match', () => {
    const { store, set } = setup();
    store.silences = [
      silence('a', { check: 'gold_freshness' }),
      silence('b', { alertname: '~data_.*' }),
      silence('c', { check: 'silver_freshness' }),
      silence('later', { check: 'gold_freshness' }, 10 * S),
    ];
    set.load(0);
    expect(set.size).toBe(4);
    expect(set.silencedBy({ alertname: 'data_stale', check: 'gold_freshness' }, S)).toEqual(['a', 'b']);
    expect(set.silencedBy({ alertname: 'data_stale', check: 'gold_freshness' }, 10 * S)).toEqual(['a', 'b', 'later']);
    expect(set.silencedBy({ alertname: 'kafka_down' }, S)).toEqual([]);
    expect(set.silencedBy({ check: 'gold_freshness' }, 3_600 * S)).toEqual([]); // ended
  });

  it('refresh reads the store first, then only after refreshMs, at once after a change, and when the clock went back', () => {
    const { store, set } = setup();
    const unwatch = set.watch();
    set.refresh(0);
    expect(store.reads).toBe(1);
    set.refresh(4 * S);
    expect(store.reads).toBe(1);
    set.refresh(5 * S);
    expect(store.reads).toBe(2);
    store.change();
    set.refresh(5 * S + 1);
    expect(store.reads).toBe(3);
    set.refresh(S);
    expect(store.reads).toBe(4);
    unwatch!();
    store.change();
    set.refresh(S + 1);
    expect(store.reads).toBe(4);
  });

  it('a store without onChange: watch returns null, refresh still re-reads on its period', () => {
    let reads = 0;
    const set = new SilenceSet({ store: { listSilences: () => (reads++, []) }, logger: recordingLogger(), refreshMs: S });
    expect(set.watch()).toBeNull();
    set.refresh(0);
    set.refresh(S - 1);
    set.refresh(S);
    expect(reads).toBe(2);
  });

  it('a failed read keeps the previous list, is reported, and is retried at the next refresh', () => {
    const { store, set, logger, readErrors } = setup();
    store.silences = [silence('a', { check: 'gold' })];
    set.load(0);
    store.fail = true;
    set.refresh(5 * S);
    expect(readErrors()).toBe(1);
    expect(set.silencedBy({ check: 'gold' }, 5 * S)).toEqual(['a']);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'cannot read silences; keeping the previous list' }));
    store.fail = false;
    store.silences = [];
    set.refresh(5 * S + 1); // not 5 s later: a failed read is retried at once
    expect(set.silencedBy({ check: 'gold' }, 5 * S + 1)).toEqual([]);
  });

  it('a silence whose matchers do not compile is skipped, with one warning however often it is read', () => {
    const { store, set, logger } = setup();
    store.silences = [silence('bad', { check: '~(a' }), silence('good', { check: 'gold' })];
    set.load(0);
    set.load(S);
    expect(set.size).toBe(1);
    expect(set.silencedBy({ check: 'gold' }, S)).toEqual(['good']);
    expect(logger.lines.filter((l) => l.msg.startsWith('silence skipped'))).toHaveLength(1);
  });
});

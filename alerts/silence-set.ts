/**
 * The silences, held in memory with their matchers compiled once (on the linear-time engine):
 * read at start, again at once when the store reports a change (`SilenceStore.onChange`), and
 * at least every `refreshMs` for changes made by other processes (the CLI). A failed read keeps
 * the previous list and is retried at the next refresh; a silence whose matchers no longer
 * compile is skipped with one warning.
 */
import type { Logger, Silence, SilenceStore } from '../src/protocol';
import { compileMatchers, type LabelPredicate } from './matchers';

/** A silence with its matchers compiled. */
interface ActiveSilence {
  silence: Silence;
  matches: LabelPredicate;
}

export interface SilenceSetParams {
  store: Pick<SilenceStore, 'listSilences' | 'onChange'>;
  logger: Logger;
  /** Re-read at least this often (ms). */
  refreshMs: number;
  /** Called when reading the store fails (the error is logged here). */
  onReadError?: () => void;
}

export class SilenceSet {
  private active: ActiveSilence[] = [];
  private loadedAt = Number.NEGATIVE_INFINITY;
  private dirty = true;
  /** Ids already warned about (their matchers do not compile). */
  private readonly skipped = new Set<string>();
  private readonly store: SilenceSetParams['store'];
  private readonly logger: Logger;
  private readonly refreshMs: number;
  private readonly onReadError: () => void;

  constructor(params: SilenceSetParams) {
    this.store = params.store;
    this.logger = params.logger;
    this.refreshMs = params.refreshMs;
    this.onReadError = params.onReadError ?? (() => undefined);
  }

  /** Silences loaded (not yet ended when read), including those not started yet. */
  get size(): number {
    return this.active.length;
  }

  /** Marks the set stale on every store change; returns the unsubscribe (null when the store cannot report changes). */
  watch(): (() => void) | null {
    return this.store.onChange?.(() => this.markDirty()) ?? null;
  }

  /** The next `refresh` re-reads the store. */
  markDirty(): void {
    this.dirty = true;
  }

  /** Reads the silences and compiles their matchers. */
  load(now: number): void {
    let stored: Silence[];
    try {
      stored = this.store.listSilences(now);
    } catch (err) {
      this.onReadError();
      // retried at the next evaluation, keeping the previous list meanwhile
      this.loadedAt = Number.NEGATIVE_INFINITY;
      this.logger.warn({ err: (err as Error).message }, 'cannot read silences; keeping the previous list');
      return;
    }
    this.dirty = false;
    this.loadedAt = now;
    const next: ActiveSilence[] = [];
    for (const silence of stored) {
      try {
        next.push({ silence, matches: compileMatchers(silence.matchers, `silence ${silence.id} matchers`) });
      } catch (err) {
        if (!this.skipped.has(silence.id)) {
          this.skipped.add(silence.id);
          this.logger.warn(
            { silence: silence.id, err: (err as Error).message },
            'silence skipped: its matchers do not compile on the linear-time regex engine (expire it: supervisor silences expire ID)',
          );
        }
      }
    }
    this.active = next;
  }

  /** Re-reads when marked dirty, when `refreshMs` has passed, or when the clock went back. */
  refresh(now: number): void {
    if (this.dirty || now - this.loadedAt >= this.refreshMs || now < this.loadedAt) this.load(now);
  }

  /** Ids of the silences active at `now` whose matchers match the labels. */
  silencedBy(labels: Readonly<Record<string, string>>, now: number): string[] {
    const out: string[] = [];
    for (const { silence, matches } of this.active) {
      if (silence.startsAt <= now && now < silence.endsAt && matches(labels)) out.push(silence.id);
    }
    return out;
  }
}

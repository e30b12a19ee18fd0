/**
 * Inhibition: a firing alert matching a rule's `source_match` mutes the alerts matching its
 * `target_match` that have the same values of the `equal` labels (Alertmanager's inhibit_rules).
 * Firing sources are indexed per rule by their `equal` values, rebuilt only when the alerts'
 * version changes (O(alerts × rules)), so checking one target is a lookup.
 */
import type { InhibitRule } from './config';
import { compileMatchers, type LabelPredicate } from './matchers';

/** What inhibition needs of an alert (identity tells a source from its target). */
export interface InhibitionCandidate {
  readonly record: { readonly labels: Readonly<Record<string, string>>; readonly state: string };
}

/** The alerts inhibition reads: all of them, and a version that changes whenever one appears, disappears or changes state. */
export interface InhibitionSource<T extends InhibitionCandidate> {
  readonly version: number;
  values(): Iterable<T>;
}

interface Inhibition {
  rule: InhibitRule;
  source: LabelPredicate;
  target: LabelPredicate;
}

export class InhibitionIndex<T extends InhibitionCandidate> {
  private readonly inhibitions: Inhibition[];
  private index: { version: number; byRule: Array<Map<string, T[]>> } | null = null;

  /** Compiles the rules' matchers (an invalid one throws, naming `alerts.inhibit[i].source_match`/`target_match`). */
  constructor(
    rules: readonly InhibitRule[],
    private readonly alerts: InhibitionSource<T>,
  ) {
    this.inhibitions = rules.map((rule, i) => ({
      rule,
      source: compileMatchers(rule.source_match, `alerts.inhibit[${i}].source_match`),
      target: compileMatchers(rule.target_match, `alerts.inhibit[${i}].target_match`),
    }));
  }

  /** Whether a firing alert matching some rule's source, other than this alert, inhibits it. */
  isInhibited(alert: T): boolean {
    if (this.inhibitions.length === 0) return false;
    const labels = alert.record.labels;
    const index = this.sources();
    for (let i = 0; i < this.inhibitions.length; i++) {
      const inh = this.inhibitions[i]!;
      if (!inh.target(labels)) continue;
      const sources = index[i]!.get(equalKey(inh.rule, labels));
      // an alert matching both sides does not inhibit itself
      if (sources && (sources.length > 1 || sources[0] !== alert)) return true;
    }
    return false;
  }

  /** Firing source alerts per rule, by the values of the rule's `equal` labels. */
  private sources(): Array<Map<string, T[]>> {
    const version = this.alerts.version;
    if (this.index && this.index.version === version) return this.index.byRule;
    const byRule = this.inhibitions.map(() => new Map<string, T[]>());
    for (const alert of this.alerts.values()) {
      if (alert.record.state !== 'firing') continue;
      this.inhibitions.forEach((inh, i) => {
        if (!inh.source(alert.record.labels)) return;
        const key = equalKey(inh.rule, alert.record.labels);
        const list = byRule[i]!.get(key);
        if (list) list.push(alert);
        else byRule[i]!.set(key, [alert]);
      });
    }
    this.index = { version, byRule };
    return byRule;
  }
}

/** The values of the rule's `equal` labels (missing = empty), as one key. */
export function equalKey(rule: Pick<InhibitRule, 'equal'>, labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(rule.equal.map((l) => labels[l] ?? ''));
}

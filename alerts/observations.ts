/**
 * What one input event says about each rule: a signal or a run event becomes one Observation
 * per rule it matches (the rule's labels, whether its condition holds, the rendered summary and
 * description, value/threshold/unit, a link). Nothing here keeps state; alerts/evaluation.ts
 * applies the observations to the alert instances.
 */
import { CHECK_WIDE_TARGET, isAtLeast, isStatus, type AlertRecord, type RunEvent, type Signal } from '../src/protocol';
import type { AlertRule } from './config';
import { compileMatchers, type LabelPredicate } from './matchers';
import { formatValue, renderTemplate, type TemplateVars } from './templates';

/** One rule's view of one input event. */
export interface Observation {
  rule: AlertRule;
  labels: Record<string, string>;
  /** The rule's condition holds (signal status ≥ rule status, or the run ended in a failing state). */
  condition: boolean;
  status?: string;
  value?: number;
  threshold?: number;
  unit?: string;
  summary: string;
  description?: string;
  url?: string;
}

/** Matches signals and run events against the rules (label matchers compiled once). */
export class RuleObserver {
  private readonly signalRules: AlertRule[];
  private readonly runRules: AlertRule[];
  /** Label matchers of the rules that have them. */
  private readonly labelMatch = new Map<AlertRule, LabelPredicate>();
  /** Base URL of the API without a trailing slash, for links. */
  private readonly publicUrl: string | undefined;

  constructor(rules: readonly AlertRule[], publicUrl?: string) {
    this.signalRules = rules.filter((r) => r.source === 'signal');
    this.runRules = rules.filter((r) => r.source === 'run');
    rules.forEach((rule, i) => {
      if (rule.match.labels) this.labelMatch.set(rule, compileMatchers(rule.match.labels, `alerts.rules[${i}].match.labels`));
    });
    this.publicUrl = publicUrl?.replace(/\/+$/, '');
  }

  /** `<publicUrl>/api/v1/health`, the link of signal alerts (undefined without a public URL). */
  healthUrl(): string | undefined {
    return this.publicUrl ? `${this.publicUrl}/api/v1/health` : undefined;
  }

  /** One observation per signal rule matching the signal's check, kind and labels. */
  signal(signal: Signal): Observation[] {
    const out: Observation[] = [];
    const signalLabels = signal.labels ?? {};
    for (const rule of this.signalRules) {
      const m = rule.match;
      if (m.check && !m.check.includes(signal.check)) continue;
      if (m.kind && !m.kind.includes(signal.kind)) continue;
      if (m.labels && !this.labelMatch.get(rule)!(signalLabels)) continue;
      if (m.pipeline) continue; // pipeline matchers only apply to run rules
      const labels: Record<string, string> = {
        ...rule.labels,
        ...signalLabels,
        check: signal.check,
        kind: signal.kind,
        target: signal.target,
        severity: rule.severity,
        alertname: rule.name,
      };
      const vars: TemplateVars = {
        check: signal.check,
        kind: signal.kind,
        target: signal.target,
        status: signal.status,
        value: signal.value,
        value_human: formatValue(signal.value, signal.unit),
        threshold: signal.threshold,
        threshold_human: formatValue(signal.threshold, signal.unit),
        unit: signal.unit,
        summary: signal.summary,
        error: signal.error?.message,
        labels,
      };
      const obs: Observation = {
        rule,
        labels,
        condition: isAtLeast(signal.status, rule.status),
        status: signal.status,
        summary: rule.summary ? renderTemplate(rule.summary, vars) : signal.summary,
      };
      if (rule.description) obs.description = renderTemplate(rule.description, vars);
      if (signal.value !== undefined) obs.value = signal.value;
      if (signal.threshold !== undefined) obs.threshold = signal.threshold;
      if (signal.unit !== undefined) obs.unit = signal.unit;
      const url = this.healthUrl();
      if (url) obs.url = url;
      out.push(obs);
    }
    return out;
  }

  /** One observation per run rule matching the pipeline, for a run that failed (condition) or succeeded (clears). */
  run(event: RunEvent): Observation[] {
    if (event.type !== 'run') return [];
    const out: Observation[] = [];
    for (const rule of this.runRules) {
      if (rule.match.pipeline && !rule.match.pipeline.includes(event.pipeline)) continue;
      const failing = (rule.run_states as readonly string[]).includes(event.state);
      if (!failing && event.state !== 'success') continue;
      const labels: Record<string, string> = { ...rule.labels, pipeline: event.pipeline, severity: rule.severity, alertname: rule.name };
      const vars: TemplateVars = {
        pipeline: event.pipeline,
        runId: event.runId,
        state: event.state,
        reason: event.reason ?? 'no reason recorded',
        trigger: event.trigger,
        logicalDate: new Date(event.logicalDate).toISOString(),
        labels,
        // the operation behind the transition, if an operator caused it (cancel, mark, clear)
        actor: event.audit?.actor,
        action: event.audit?.action,
        auditReason: event.audit?.reason,
      };
      const obs: Observation = {
        rule,
        labels,
        condition: failing,
        status: event.state,
        summary: rule.summary ? renderTemplate(rule.summary, vars) : `Pipeline ${event.pipeline} run ${event.state}`,
      };
      if (rule.description) obs.description = renderTemplate(rule.description, vars);
      if (event.durationMs !== undefined) {
        obs.value = event.durationMs / 1000;
        obs.unit = 'seconds';
      }
      if (this.publicUrl) obs.url = `${this.publicUrl}/api/v1/runs/${encodeURIComponent(event.runId)}`;
      out.push(obs);
    }
    return out;
  }
}

/**
 * A probe run that failed as a whole reports one check-wide signal (target `*`); once the
 * check answers again it reports its real targets instead, so nothing would ever clear the
 * check-wide alert. A signal for a real target of the same check clears it: one observation
 * with a false condition per unresolved check-wide alert of that check.
 */
export function clearCheckWide(signal: Signal, alerts: Iterable<{ rule: AlertRule; record: AlertRecord }>): Observation[] {
  if (signal.target === CHECK_WIDE_TARGET) return [];
  const out: Observation[] = [];
  for (const alert of alerts) {
    const l = alert.record.labels;
    if (l.target !== CHECK_WIDE_TARGET || l.check !== signal.check || alert.record.state === 'resolved') continue;
    out.push({ rule: alert.rule, labels: l, condition: false, status: signal.status, summary: `${signal.check} answers again: ${signal.summary}` });
  }
  return out;
}

/** Why a signal cannot be evaluated (undefined when it can). */
export function invalidSignal(s: Signal | null | undefined): string | undefined {
  if (!s || typeof s !== 'object') return 'signal is not an object';
  if (typeof s.check !== 'string' || s.check === '') return 'signal.check is missing';
  if (!isStatus(s.status)) return `signal ${s.check}: status ${JSON.stringify(s.status)} is not one of ok, warn, unknown, crit`;
  if (s.labels !== undefined && (s.labels === null || typeof s.labels !== 'object')) return `signal ${s.check}: labels must be an object`;
  return undefined;
}

/** Why a run event cannot be evaluated (undefined when it can; task events pass and are ignored). */
export function invalidRunEvent(e: RunEvent | null | undefined): string | undefined {
  if (!e || typeof e !== 'object') return 'run event is not an object';
  if (e.type !== 'run') return undefined; // task events are ignored
  if (typeof e.pipeline !== 'string' || typeof e.runId !== 'string' || typeof e.state !== 'string') return 'run event lacks pipeline, runId or state';
  return undefined;
}

/**
 * The alert engine: Alertmanager's semantics in-process. Every signal (and run event) is
 * evaluated against the rules at once; alert instances move pending → firing → resolved
 * (`for`, `keep_firing_for`); firing alerts of one rule are grouped by the route's `group_by`;
 * groups notify (group_wait, group_interval, repeat_interval, resolved) unless silenced or
 * inhibited. Every transition is persisted, every notification goes to the durable outbox
 * with a deterministic dedup key, so a restart continues without paging twice.
 */
import { BehaviorSubject, defer, EMPTY, merge, map, retry, type Observable, type Subscription } from 'rxjs';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  CHECK_WIDE_TARGET,
  isAtLeast,
  isStatus,
  type AlertGroupRecord,
  type AlertRecord,
  type AlertStateStore,
  type Clock,
  type Logger,
  type NotificationItem,
  type OutboxStore,
  type RunEvent,
  type Signal,
  type Silence,
  type SilenceStore,
} from '../src/protocol';
import type { AlertRule, InhibitRule, RouteConfig } from './config';
import { compileMatchers, labelsKey, type LabelPredicate } from './matchers';
import { buildNotification } from './notifications';
import { formatValue, renderTemplate, type TemplateVars } from './templates';

export interface AlertEngineParams {
  rules: readonly AlertRule[];
  route: RouteConfig;
  inhibit?: readonly InhibitRule[];
  signals$: Observable<Signal>;
  runEvents$?: Observable<RunEvent>;
  alertStore: AlertStateStore;
  silenceStore: SilenceStore;
  /** Wrap with `wakeOnEnqueue` so the outbox worker delivers at once. */
  outbox: OutboxStore;
  clock: Clock;
  logger: Logger;
  /** Base URL of the supervisor's API, for links (`/api/v1/health`, `/api/v1/runs/:id`). */
  publicUrl?: string;
  registry?: Registry;
  /** Sinks that need firing alerts re-sent on their own cadence (Alertmanager): name → ms. See `resendIntervalsOf`. */
  resendIntervals?: Readonly<Record<string, number>>;
  /** Timer-driven evaluation period (pending → firing without a new signal, keep_firing_for, repeats). Default 1 s. */
  evaluationIntervalMs?: number;
  /** Resolved alerts stay visible in alerts$ this long (default 5 min). */
  resolvedRetentionMs?: number;
  /**
   * Silences are kept in memory: read at start, again at once when the store reports a change
   * (`SilenceStore.onChange`), and at least this often for changes made by other processes
   * (the CLI). Default 5 s.
   */
  silenceRefreshMs?: number;
  /** Longest wait before re-subscribing to an input stream that failed (default 30 s; doubles from 1 s). */
  maxInputRetryDelayMs?: number;
}

export interface AlertView extends AlertRecord {
  severity: string;
  silencedBy: string[];
  inhibited: boolean;
}

export interface AlertEngine {
  /** Current alert instances (pending, firing, recently resolved), after every change. */
  readonly alerts$: Observable<readonly AlertView[]>;
  /** Runs timer-driven transitions and group notifications at `clock.now()` (the engine does this itself every second). */
  evaluate(): void;
  /** Current alert instances. */
  snapshot(): AlertView[];
  /** Errors survived so far, by stage (also in supervisor_alerts_evaluation_errors_total). */
  errorCounts(): Readonly<Record<AlertEngineErrorStage, number>>;
  start(): void;
  close(): Promise<void>;
}

interface Instance {
  record: AlertRecord;
  rule: AlertRule;
  /** Last observation's condition (unknown after a restart until the next observation). */
  lastCondition: boolean | undefined;
}

/** A silence with its matchers compiled once (on the linear-time engine). */
interface ActiveSilence {
  silence: Silence;
  matches: LabelPredicate;
}

/** An inhibition rule with compiled matchers. */
interface Inhibition {
  rule: InhibitRule;
  source: LabelPredicate;
  target: LabelPredicate;
}

/** Where the engine met an error it survived (label of supervisor_alerts_evaluation_errors_total). */
export type AlertEngineErrorStage = 'event' | 'tick' | 'input' | 'silences' | 'store' | 'notify';

interface Observation {
  rule: AlertRule;
  labels: Record<string, string>;
  condition: boolean;
  status?: string;
  value?: number;
  threshold?: number;
  unit?: string;
  summary: string;
  description?: string;
  url?: string;
}

type Event = { type: 'signal'; signal: Signal } | { type: 'run'; event: RunEvent };

export function createAlertEngine(params: AlertEngineParams): AlertEngine {
  const { route, clock, alertStore, silenceStore, outbox } = params;
  const logger = params.logger.child({ component: 'alerts', name: 'engine' });
  const inhibitions: Inhibition[] = (params.inhibit ?? []).map((rule, i) => ({
    rule,
    source: compileMatchers(rule.source_match, `alerts.inhibit[${i}].source_match`),
    target: compileMatchers(rule.target_match, `alerts.inhibit[${i}].target_match`),
  }));
  const evaluationIntervalMs = params.evaluationIntervalMs ?? 1_000;
  const silenceRefreshMs = params.silenceRefreshMs ?? 5_000;
  const maxInputRetryDelayMs = params.maxInputRetryDelayMs ?? 30_000;
  const resolvedRetentionMs = params.resolvedRetentionMs ?? 300_000;
  const publicUrl = params.publicUrl?.replace(/\/+$/, '');
  const rulesByName = new Map<string, AlertRule>();
  for (const rule of params.rules) {
    if (rulesByName.has(rule.name)) throw new Error(`alert engine: duplicate rule name "${rule.name}"`);
    rulesByName.set(rule.name, rule);
  }
  const signalRules = params.rules.filter((r) => r.source === 'signal');
  const runRules = params.rules.filter((r) => r.source === 'run');
  /** Label matchers of signal rules, compiled once. */
  const ruleLabelMatch = new Map<AlertRule, LabelPredicate>();
  params.rules.forEach((rule, i) => {
    if (rule.match.labels) ruleLabelMatch.set(rule, compileMatchers(rule.match.labels, `alerts.rules[${i}].match.labels`));
  });

  const instances = new Map<string, Instance>();
  const groups = new Map<string, AlertGroupRecord>();
  const lastResend = new Map<string, number>();
  const alertsSubject = new BehaviorSubject<readonly AlertView[]>([]);
  let silences: ActiveSilence[] = [];
  let silencesLoadedAt = Number.NEGATIVE_INFINITY;
  let silencesDirty = true;
  const skippedSilences = new Set<string>();
  let unsubscribeSilences: (() => void) | null = null;
  /** Bumped whenever an instance appears, disappears or changes state; keys the inhibition index. */
  let stateVersion = 0;
  let inhibitionIndex: { version: number; byRule: Array<Map<string, Instance[]>> } | null = null;
  let subscription: Subscription | null = null;
  let started = false;
  let closed = false;
  let closePromise: Promise<void> | null = null;
  const tickAbort = new AbortController();
  let tickLoop: Promise<void> | null = null;

  const errorCounter = params.registry
    ? new Counter({
        name: 'supervisor_alerts_evaluation_errors_total',
        help: 'Errors the alert engine survived, by stage (event: one input event; tick: a timed evaluation; input: an input stream failed and was re-subscribed; silences: reading silences; store: persisting alert state; notify: enqueueing a notification).',
        labelNames: ['stage'] as const,
        registers: [params.registry],
      })
    : undefined;
  const errorsByStage: Record<AlertEngineErrorStage, number> = { event: 0, tick: 0, input: 0, silences: 0, store: 0, notify: 0 };

  function countError(stage: AlertEngineErrorStage): void {
    errorsByStage[stage] += 1;
    errorCounter?.inc({ stage });
  }

  if (params.registry) {
    new Gauge({
      name: 'supervisor_alerts_firing',
      help: 'Alert instances currently firing, by rule and severity (silenced and inhibited included).',
      labelNames: ['rule', 'severity'] as const,
      registers: [params.registry],
      collect() {
        this.reset();
        for (const rule of params.rules) this.set({ rule: rule.name, severity: rule.severity }, 0);
        for (const inst of instances.values()) {
          if (inst.record.state === 'firing') this.inc({ rule: inst.rule.name, severity: inst.rule.severity });
        }
      },
    });
  }

  // ---------- observations ----------

  function healthUrl(): string | undefined {
    return publicUrl ? `${publicUrl}/api/v1/health` : undefined;
  }

  function observeSignal(signal: Signal): Observation[] {
    const out: Observation[] = [];
    const signalLabels = signal.labels ?? {};
    for (const rule of signalRules) {
      const m = rule.match;
      if (m.check && !m.check.includes(signal.check)) continue;
      if (m.kind && !m.kind.includes(signal.kind)) continue;
      if (m.labels && !ruleLabelMatch.get(rule)!(signalLabels)) continue;
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
      const url = healthUrl();
      if (url) obs.url = url;
      out.push(obs);
    }
    return out;
  }

  /**
   * A probe run that failed as a whole reports one check-wide signal (target `*`); once the
   * check answers again it reports its real targets instead, so nothing would ever clear the
   * check-wide alert. A signal for a real target of the same check clears it.
   */
  function clearCheckWide(signal: Signal): Observation[] {
    if (signal.target === CHECK_WIDE_TARGET) return [];
    const out: Observation[] = [];
    for (const inst of instances.values()) {
      const l = inst.record.labels;
      if (l.target !== CHECK_WIDE_TARGET || l.check !== signal.check || inst.record.state === 'resolved') continue;
      out.push({ rule: inst.rule, labels: l, condition: false, status: signal.status, summary: `${signal.check} answers again: ${signal.summary}` });
    }
    return out;
  }

  function observeRun(event: RunEvent): Observation[] {
    if (event.type !== 'run') return [];
    const out: Observation[] = [];
    for (const rule of runRules) {
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
      if (publicUrl) obs.url = `${publicUrl}/api/v1/runs/${encodeURIComponent(event.runId)}`;
      out.push(obs);
    }
    return out;
  }

  // ---------- instance state machine ----------

  function save(inst: Instance): void {
    try {
      alertStore.saveAlert(inst.record);
    } catch (err) {
      countError('store');
      logger.error({ alert: inst.record.key, err: (err as Error).message }, 'cannot persist alert state');
    }
  }

  function drop(key: string): void {
    if (instances.delete(key)) stateVersion += 1;
    try {
      alertStore.deleteAlert(key);
    } catch (err) {
      countError('store');
      logger.error({ alert: key, err: (err as Error).message }, 'cannot delete alert state');
    }
  }

  function apply(obs: Observation, now: number): void {
    const key = `${obs.rule.name}|${labelsKey(obs.labels)}`;
    let inst = instances.get(key);
    if (obs.condition) {
      if (!inst || inst.record.state === 'resolved') {
        inst = {
          rule: obs.rule,
          lastCondition: true,
          record: { key, rule: obs.rule.name, labels: obs.labels, state: 'pending', activeSince: now, lastTrueAt: now, summary: obs.summary },
        };
        instances.set(key, inst);
        stateVersion += 1;
        logger.info({ alert: key }, 'alert pending');
      }
      const r = inst.record;
      inst.lastCondition = true;
      r.lastTrueAt = now;
      r.summary = obs.summary;
      r.severity = obs.rule.severity;
      setOptional(r, 'status', obs.status);
      setOptional(r, 'value', obs.value);
      setOptional(r, 'threshold', obs.threshold);
      setOptional(r, 'unit', obs.unit);
      setOptional(r, 'description', obs.description);
      setOptional(r, 'url', obs.url);
      promote(inst, now);
      save(inst);
      return;
    }
    if (!inst) return;
    inst.lastCondition = false;
    if (inst.record.state === 'pending') {
      logger.info({ alert: key }, 'alert no longer pending (condition cleared before `for`)');
      drop(key);
    } else if (inst.record.state === 'firing') {
      // keep the last firing details, but show the current value
      setOptional(inst.record, 'value', obs.value);
      expire(inst, now);
      save(inst);
    }
  }

  function promote(inst: Instance, now: number): boolean {
    const r = inst.record;
    if (r.state === 'pending' && inst.lastCondition !== false && now - r.activeSince >= inst.rule.for) {
      r.state = 'firing';
      r.firedAt = now;
      stateVersion += 1;
      logger.warn({ alert: r.key, severity: inst.rule.severity }, `alert firing (was pending since ${new Date(r.activeSince).toISOString()})`);
      return true;
    }
    return false;
  }

  function expire(inst: Instance, now: number): boolean {
    const r = inst.record;
    if (r.state === 'firing' && inst.lastCondition === false && now - r.lastTrueAt >= inst.rule.keep_firing_for) {
      r.state = 'resolved';
      r.resolvedAt = now;
      stateVersion += 1;
      logger.info({ alert: r.key }, 'alert resolved (was firing)');
      return true;
    }
    return false;
  }

  // ---------- muting ----------

  function silencedBy(labels: Record<string, string>, now: number): string[] {
    const out: string[] = [];
    for (const { silence, matches } of silences) {
      if (silence.startsAt <= now && now < silence.endsAt && matches(labels)) out.push(silence.id);
    }
    return out;
  }

  function equalKey(rule: InhibitRule, labels: Readonly<Record<string, string>>): string {
    return JSON.stringify(rule.equal.map((l) => labels[l] ?? ''));
  }

  /**
   * Firing source alerts per inhibition rule, indexed by the values of the rule's `equal`
   * labels: built once per state change (O(alerts × rules)), so checking one target is a lookup.
   */
  function sourcesIndex(): Array<Map<string, Instance[]>> {
    if (inhibitionIndex && inhibitionIndex.version === stateVersion) return inhibitionIndex.byRule;
    const byRule = inhibitions.map(() => new Map<string, Instance[]>());
    if (inhibitions.length > 0) {
      for (const inst of instances.values()) {
        if (inst.record.state !== 'firing') continue;
        inhibitions.forEach((inh, i) => {
          if (!inh.source(inst.record.labels)) return;
          const key = equalKey(inh.rule, inst.record.labels);
          const list = byRule[i]!.get(key);
          if (list) list.push(inst);
          else byRule[i]!.set(key, [inst]);
        });
      }
    }
    inhibitionIndex = { version: stateVersion, byRule };
    return byRule;
  }

  function isInhibited(inst: Instance): boolean {
    if (inhibitions.length === 0) return false;
    const labels = inst.record.labels;
    const index = sourcesIndex();
    for (let i = 0; i < inhibitions.length; i++) {
      const inh = inhibitions[i]!;
      if (!inh.target(labels)) continue;
      const sources = index[i]!.get(equalKey(inh.rule, labels));
      // an alert matching both sides does not inhibit itself
      if (sources && (sources.length > 1 || sources[0] !== inst)) return true;
    }
    return false;
  }

  // ---------- groups and notifications ----------

  function groupLabelsOf(inst: Instance): Record<string, string> {
    if (route.group_by.includes('...')) return { ...inst.record.labels };
    const out: Record<string, string> = {};
    for (const l of route.group_by) {
      const v = inst.record.labels[l];
      if (v !== undefined) out[l] = v;
    }
    return out;
  }

  function sinksOf(rule: AlertRule): string[] {
    return rule.sinks ?? route.sinks;
  }

  function item(r: AlertRecord): NotificationItem {
    const name = r.labels.check ?? r.labels.pipeline ?? r.rule;
    const out: NotificationItem = { name, status: r.state === 'resolved' ? 'resolved' : (r.status ?? r.state), summary: r.summary, labels: r.labels };
    if (r.value !== undefined) out.value = r.value;
    if (r.threshold !== undefined) out.threshold = r.threshold;
    if (r.unit !== undefined) out.unit = r.unit;
    if (r.firedAt !== undefined) out.since = r.firedAt;
    if (r.resolvedAt !== undefined) out.endsAt = r.resolvedAt;
    return out;
  }

  function enqueue(
    kind: 'firing' | 'resolved',
    rule: AlertRule,
    group: AlertGroupRecord,
    dedupKey: string,
    active: Instance[],
    resolved: Instance[],
    sinks: readonly string[],
    now: number,
  ): void {
    if (sinks.length === 0) {
      logger.debug({ rule: rule.name, dedupKey }, 'no sinks routed for this notification');
      return;
    }
    const lead = (active[0] ?? resolved[0])?.record;
    const summary = active.length + resolved.length > 1 && kind === 'firing' ? `${active.length} ${rule.name} alert(s) firing${resolved.length ? `, ${resolved.length} resolved` : ''}: ${lead?.summary ?? ''}` : (lead?.summary ?? rule.name);
    const urls = new Set([...active, ...resolved].map((i) => i.record.url).filter((u): u is string => !!u));
    const url = urls.size === 1 ? [...urls][0] : healthUrl();
    const notification = buildNotification({
      kind,
      dedupKey,
      rule: rule.name,
      severity: rule.severity,
      groupLabels: group.labels,
      summary,
      ...(lead?.description !== undefined && active.length + resolved.length === 1 ? { description: lead.description } : {}),
      startsAt: group.episodeSince,
      ...(kind === 'resolved' ? { endsAt: Math.max(now, ...resolved.map((i) => i.record.resolvedAt ?? now)) } : {}),
      ...(url !== undefined ? { url } : {}),
      items: [...active, ...resolved].map((i) => item(i.record)),
      count: kind === 'firing' ? active.length : resolved.length,
    });
    const ids = outbox.enqueue(notification, sinks, now);
    logger.info({ rule: rule.name, group: group.key, dedupKey, kind, sinks, enqueued: ids.length }, ids.length ? 'notification enqueued' : 'notification already in the outbox');
  }

  function evaluateGroups(now: number): void {
    const members = new Map<string, { rule: AlertRule; labels: Record<string, string>; instances: Instance[] }>();
    for (const inst of instances.values()) {
      const labels = groupLabelsOf(inst);
      const key = `${inst.rule.name}|${labelsKey(labels)}`;
      let g = members.get(key);
      if (!g) members.set(key, (g = { rule: inst.rule, labels, instances: [] }));
      g.instances.push(inst);
    }
    const keys = new Set([...members.keys(), ...groups.keys()]);
    for (const key of keys) {
      try {
        evaluateGroup(key, members.get(key), now);
      } catch (err) {
        countError('notify');
        logger.error({ group: key, err: (err as Error).message }, 'cannot evaluate alert group; retried at the next evaluation');
      }
    }
  }

  function evaluateGroup(key: string, m: { rule: AlertRule; labels: Record<string, string>; instances: Instance[] } | undefined, now: number): void {
    let group = groups.get(key);
    const rule = m?.rule ?? (group ? rulesByName.get(group.rule) : undefined);
    if (!rule) {
      if (group) dropGroup(key);
      return;
    }
    const all = (m?.instances ?? []).slice().sort((a, b) => byCodePoint(a.record.key, b.record.key));
    const active = all.filter((i) => i.record.state === 'firing' && silencedBy(i.record.labels, now).length === 0 && !isInhibited(i));
    const activeKeys = active.map((i) => i.record.key);
    const sinks = sinksOf(rule);

    if (active.length > 0) {
      if (!group) {
        const episodeSince = Math.min(...active.map((i) => i.record.firedAt ?? now));
        if (now - episodeSince < route.group_wait) return;
        group = { key, rule: rule.name, labels: m!.labels, episodeSince, sequence: 0, lastNotifiedAt: now, notifiedAlerts: [] };
        enqueue('firing', rule, group, `${key}|firing|${episodeSince}|0`, active, [], sinks, now);
        group.sequence = 1;
        group.notifiedAlerts = activeKeys;
        saveGroup(group);
      } else {
        const changed = activeKeys.length !== group.notifiedAlerts.length || activeKeys.some((k, i) => group!.notifiedAlerts[i] !== k);
        const repeatDue = now - group.lastNotifiedAt >= (rule.repeat_interval ?? route.repeat_interval);
        if ((changed && now - group.lastNotifiedAt >= route.group_interval) || repeatDue) {
          const activeSet = new Set(activeKeys);
          const resolvedSinceLast = group.notifiedAlerts
            .filter((k) => !activeSet.has(k))
            .map((k) => instances.get(k))
            .filter((i): i is Instance => i?.record.state === 'resolved');
          enqueue('firing', rule, group, `${key}|firing|${group.episodeSince}|${group.sequence}`, active, route.send_resolved ? resolvedSinceLast : [], sinks, now);
          group.sequence += 1;
          group.lastNotifiedAt = now;
          group.notifiedAlerts = activeKeys;
          saveGroup(group);
        }
      }
      // sinks that want firing alerts re-sent on their own cadence (Alertmanager's resolve_timeout)
      for (const sink of sinks) {
        const interval = params.resendIntervals?.[sink];
        if (!interval || interval <= 0) continue;
        const k = Math.floor((now - group.episodeSince) / interval);
        const rk = `${key}\u0000${sink}`;
        if (k < 1 || lastResend.get(rk) === k) continue;
        lastResend.set(rk, k);
        enqueue('firing', rule, group, `${key}|firing|${group.episodeSince}|resend|${k}`, active, [], [sink], now);
      }
      return;
    }

    if (!group) return;
    const stillFiring = group.notifiedAlerts.filter((k) => instances.get(k)?.record.state === 'firing');
    if (stillFiring.length > 0) return; // silenced or inhibited while firing: stay quiet, resolve later
    if (route.send_resolved) {
      const resolved = group.notifiedAlerts.map((k) => instances.get(k)).filter((i): i is Instance => i !== undefined);
      enqueue('resolved', rule, group, `${key}|resolved|${group.episodeSince}`, [], resolved, sinks, now);
    }
    dropGroup(key);
  }

  function saveGroup(group: AlertGroupRecord): void {
    groups.set(group.key, group);
    try {
      alertStore.saveGroup(group);
    } catch (err) {
      countError('store');
      logger.error({ group: group.key, err: (err as Error).message }, 'cannot persist alert group state');
    }
  }

  function dropGroup(key: string): void {
    groups.delete(key);
    for (const rk of [...lastResend.keys()]) if (rk.startsWith(`${key}\u0000`)) lastResend.delete(rk);
    try {
      alertStore.deleteGroup(key);
    } catch (err) {
      countError('store');
      logger.error({ group: key, err: (err as Error).message }, 'cannot delete alert group state');
    }
  }

  // ---------- evaluation ----------

  /** Reads the silences and compiles their matchers; a silence whose regex no longer compiles is skipped with a warning. */
  function loadSilences(now: number): void {
    let stored: Silence[];
    try {
      stored = silenceStore.listSilences(now);
    } catch (err) {
      countError('silences');
      // retried at the next evaluation, keeping the previous list meanwhile
      silencesLoadedAt = Number.NEGATIVE_INFINITY;
      logger.warn({ err: (err as Error).message }, 'cannot read silences; keeping the previous list');
      return;
    }
    silencesDirty = false;
    silencesLoadedAt = now;
    const next: ActiveSilence[] = [];
    for (const silence of stored) {
      try {
        next.push({ silence, matches: compileMatchers(silence.matchers, `silence ${silence.id} matchers`) });
      } catch (err) {
        if (!skippedSilences.has(silence.id)) {
          skippedSilences.add(silence.id);
          logger.warn({ silence: silence.id, err: (err as Error).message }, 'silence skipped: its matchers do not compile on the linear-time regex engine (expire it: supervisor silences expire ID)');
        }
      }
    }
    silences = next;
  }

  function refreshSilences(now: number): void {
    if (silencesDirty || now - silencesLoadedAt >= silenceRefreshMs || now < silencesLoadedAt) loadSilences(now);
  }

  function tick(now: number): void {
    for (const inst of [...instances.values()]) {
      if (promote(inst, now) || expire(inst, now)) save(inst);
    }
    refreshSilences(now);
    evaluateGroups(now);
    // forget resolved alerts once their group no longer lists them
    const referenced = new Set([...groups.values()].flatMap((g) => g.notifiedAlerts));
    for (const inst of [...instances.values()]) {
      const r = inst.record;
      if (r.state === 'resolved' && !referenced.has(r.key) && now - (r.resolvedAt ?? now) >= resolvedRetentionMs) drop(r.key);
    }
  }

  function views(now: number): AlertView[] {
    return [...instances.values()]
      .map((inst) => ({ ...inst.record, severity: inst.rule.severity, silencedBy: silencedBy(inst.record.labels, now), inhibited: inst.record.state === 'firing' && isInhibited(inst) }))
      .sort((a, b) => byCodePoint(a.key, b.key));
  }

  function publish(now: number): void {
    alertsSubject.next(views(now));
  }

  function handle(event: Event): void {
    if (closed) return;
    const now = clock.now();
    const problem = event.type === 'signal' ? invalidSignal(event.signal) : invalidRunEvent(event.event);
    if (problem) {
      logger.warn({ problem }, 'invalid input event skipped');
      return;
    }
    try {
      const observations = event.type === 'signal' ? [...observeSignal(event.signal), ...clearCheckWide(event.signal)] : observeRun(event.event);
      if (observations.length === 0) return;
      for (const obs of observations) apply(obs, now);
      tick(now);
      publish(now);
    } catch (err) {
      countError('event');
      const what = event.type === 'signal' ? `signal ${String(event.signal?.check)}` : `run event ${String((event.event as { runId?: unknown })?.runId)}`;
      logger.warn({ err: (err as Error)?.message ?? String(err) }, `cannot evaluate ${what}; skipped, evaluation continues`);
    }
  }

  function restore(now: number): void {
    for (const record of alertStore.loadAlerts()) {
      const rule = rulesByName.get(record.rule);
      if (!rule) {
        logger.info({ alert: record.key }, 'dropping stored alert of a rule that no longer exists');
        alertStore.deleteAlert(record.key);
        continue;
      }
      instances.set(record.key, { record, rule, lastCondition: undefined });
    }
    for (const group of alertStore.loadGroups()) {
      if (!rulesByName.has(group.rule)) {
        alertStore.deleteGroup(group.key);
        continue;
      }
      groups.set(group.key, group);
    }
    stateVersion += 1;
    loadSilences(now);
    logger.info({ alerts: instances.size, groups: groups.size, silences: silences.length }, 'alert state restored');
    publish(now);
  }

  /**
   * An input stream that errors is logged, counted and subscribed to again after a backoff
   * (1 s doubling to maxInputRetryDelayMs, reset by the next value): evaluation never stops
   * for good because one upstream failed.
   */
  function resilient<T>(name: string, source$: Observable<T>): Observable<T> {
    return source$.pipe(
      retry({
        resetOnSuccess: true,
        delay: (err: unknown, attempt: number) => {
          countError('input');
          const waitMs = Math.min(maxInputRetryDelayMs, 1_000 * 2 ** Math.min(20, attempt - 1));
          logger.warn({ input: name, attempt, retryInMs: waitMs, err: (err as Error)?.message ?? String(err) }, `alert input stream (${name}) failed; subscribing again`);
          return defer(() => clock.sleep(waitMs, tickAbort.signal));
        },
      }),
    );
  }

  async function runTicks(): Promise<void> {
    while (!closed) {
      try {
        await clock.sleep(evaluationIntervalMs, tickAbort.signal);
      } catch {
        return;
      }
      if (closed) return;
      const now = clock.now();
      try {
        tick(now);
        publish(now);
      } catch (err) {
        countError('tick');
        logger.warn({ err: (err as Error)?.message ?? String(err) }, 'alert evaluation failed; retried at the next tick');
      }
    }
  }

  return {
    alerts$: alertsSubject.asObservable(),
    evaluate() {
      const now = clock.now();
      tick(now);
      publish(now);
    },
    snapshot() {
      return views(clock.now());
    },
    start() {
      if (started || closed) return;
      started = true;
      unsubscribeSilences =
        silenceStore.onChange?.(() => {
          silencesDirty = true;
        }) ?? null;
      restore(clock.now());
      const events$: Observable<Event> = merge(
        resilient('signals', params.signals$).pipe(map((signal): Event => ({ type: 'signal', signal }))),
        resilient('run events', params.runEvents$ ?? EMPTY).pipe(map((event): Event => ({ type: 'run', event }))),
      );
      subscription = events$.subscribe({
        next: handle,
        // only when closing (the retry wait was aborted)
        error: (err: unknown) => {
          if (!closed) logger.error({ err: (err as Error)?.message }, 'alert input stream ended with an error');
        },
      });
      tickLoop = runTicks();
    },
    errorCounts() {
      return { ...errorsByStage };
    },
    close() {
      if (closePromise) return closePromise;
      closed = true;
      closePromise = (async () => {
        const errors: unknown[] = [];
        try {
          subscription?.unsubscribe();
        } catch (err) {
          errors.push(err);
        }
        try {
          unsubscribeSilences?.();
        } catch (err) {
          errors.push(err);
        }
        tickAbort.abort();
        await tickLoop?.catch((err: unknown) => errors.push(err));
        alertsSubject.complete();
        if (errors.length) logger.error({ errors: errors.map((e) => (e as Error)?.message) }, 'errors while closing the alert engine');
      })();
      return closePromise;
    },
  };
}

function invalidSignal(s: Signal | null | undefined): string | undefined {
  if (!s || typeof s !== 'object') return 'signal is not an object';
  if (typeof s.check !== 'string' || s.check === '') return 'signal.check is missing';
  if (!isStatus(s.status)) return `signal ${s.check}: status ${JSON.stringify(s.status)} is not one of ok, warn, unknown, crit`;
  if (s.labels !== undefined && (s.labels === null || typeof s.labels !== 'object')) return `signal ${s.check}: labels must be an object`;
  return undefined;
}

function invalidRunEvent(e: RunEvent | null | undefined): string | undefined {
  if (!e || typeof e !== 'object') return 'run event is not an object';
  if (e.type !== 'run') return undefined; // task events are ignored
  if (typeof e.pipeline !== 'string' || typeof e.runId !== 'string' || typeof e.state !== 'string') return 'run event lacks pipeline, runId or state';
  return undefined;
}

function setOptional<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value === undefined) delete target[key];
  else target[key] = value;
}

/** `resendIntervals` for createAlertEngine from the configured sinks (Alertmanager sinks' resend_interval). */
export function resendIntervalsOf(sinks: Readonly<Record<string, { type: string; resend_interval?: number }>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, sink] of Object.entries(sinks)) if (sink.type === 'alertmanager' && sink.resend_interval) out[name] = sink.resend_interval;
  return out;
}

/** Code-point order. localeCompare would map ICU collation data (~2 MB) into the process for no gain on ASCII keys. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The alert engine: Alertmanager's semantics in-process. Every signal (and run event) is
 * evaluated against the rules at once; alert instances move pending → firing → resolved
 * (`for`, `keep_firing_for`); firing alerts of one rule are grouped by the route's `group_by`;
 * groups notify (group_wait, group_interval, repeat_interval, resolved) unless silenced or
 * inhibited. Every transition is persisted, every notification goes to the durable outbox
 * with a deterministic dedup key, so a restart continues without paging twice.
 */
import { BehaviorSubject, EMPTY, merge, map, type Observable, type Subscription } from 'rxjs';
import { Gauge, type Registry } from 'prom-client';
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
import { labelsKey, matchesLabels } from './matchers';
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
  start(): void;
  close(): Promise<void>;
}

interface Instance {
  record: AlertRecord;
  rule: AlertRule;
  /** Last observation's condition (unknown after a restart until the next observation). */
  lastCondition: boolean | undefined;
}

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
  const inhibitRules = params.inhibit ?? [];
  const evaluationIntervalMs = params.evaluationIntervalMs ?? 1_000;
  const resolvedRetentionMs = params.resolvedRetentionMs ?? 300_000;
  const publicUrl = params.publicUrl?.replace(/\/+$/, '');
  const rulesByName = new Map<string, AlertRule>();
  for (const rule of params.rules) {
    if (rulesByName.has(rule.name)) throw new Error(`alert engine: duplicate rule name "${rule.name}"`);
    rulesByName.set(rule.name, rule);
  }
  const signalRules = params.rules.filter((r) => r.source === 'signal');
  const runRules = params.rules.filter((r) => r.source === 'run');

  const instances = new Map<string, Instance>();
  const groups = new Map<string, AlertGroupRecord>();
  const lastResend = new Map<string, number>();
  const alertsSubject = new BehaviorSubject<readonly AlertView[]>([]);
  let silences: Silence[] = [];
  let subscription: Subscription | null = null;
  let started = false;
  let closed = false;
  let closePromise: Promise<void> | null = null;
  const tickAbort = new AbortController();
  let tickLoop: Promise<void> | null = null;

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
      if (m.labels && !matchesLabels(m.labels, signalLabels)) continue;
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
      logger.error({ alert: inst.record.key, err: (err as Error).message }, 'cannot persist alert state');
    }
  }

  function drop(key: string): void {
    instances.delete(key);
    try {
      alertStore.deleteAlert(key);
    } catch (err) {
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
      logger.info({ alert: r.key }, 'alert resolved (was firing)');
      return true;
    }
    return false;
  }

  // ---------- muting ----------

  function silencedBy(labels: Record<string, string>, now: number): string[] {
    return silences.filter((s) => s.startsAt <= now && now < s.endsAt && matchesLabels(s.matchers, labels)).map((s) => s.id);
  }

  function isInhibited(inst: Instance): boolean {
    const labels = inst.record.labels;
    for (const rule of inhibitRules) {
      if (!matchesLabels(rule.target_match, labels)) continue;
      for (const source of instances.values()) {
        if (source === inst || source.record.state !== 'firing') continue;
        if (!matchesLabels(rule.source_match, source.record.labels)) continue;
        if (rule.equal.every((l) => (source.record.labels[l] ?? '') === (labels[l] ?? ''))) return true;
      }
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
        logger.error({ group: key, err: (err as Error).message }, 'cannot evaluate alert group');
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
          const resolvedSinceLast = group.notifiedAlerts
            .filter((k) => !activeKeys.includes(k))
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
      logger.error({ group: group.key, err: (err as Error).message }, 'cannot persist alert group state');
    }
  }

  function dropGroup(key: string): void {
    groups.delete(key);
    for (const rk of [...lastResend.keys()]) if (rk.startsWith(`${key}\u0000`)) lastResend.delete(rk);
    try {
      alertStore.deleteGroup(key);
    } catch (err) {
      logger.error({ group: key, err: (err as Error).message }, 'cannot delete alert group state');
    }
  }

  // ---------- evaluation ----------

  function refreshSilences(now: number): void {
    try {
      silences = silenceStore.listSilences(now);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'cannot read silences; keeping the previous list');
    }
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
      const what = event.type === 'signal' ? `signal ${String(event.signal?.check)}` : `run event ${String((event.event as { runId?: unknown })?.runId)}`;
      logger.error({ err: (err as Error).message }, `cannot evaluate ${what}; skipped`);
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
    logger.info({ alerts: instances.size, groups: groups.size }, 'alert state restored');
    publish(now);
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
        logger.error({ err: (err as Error).message }, 'alert evaluation failed');
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
      restore(clock.now());
      const events$: Observable<Event> = merge(
        params.signals$.pipe(map((signal): Event => ({ type: 'signal', signal }))),
        (params.runEvents$ ?? EMPTY).pipe(map((event): Event => ({ type: 'run', event }))),
      );
      subscription = events$.subscribe({
        next: handle,
        error: (err: unknown) => logger.error({ err: (err as Error)?.message }, 'alert input stream failed; no more signals will be evaluated'),
      });
      tickLoop = runTicks();
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

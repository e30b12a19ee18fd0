/**
 * Alerting: config schema, the rule engine (policy), the durable outbox worker (delivery),
 * sinks and templates. Wiring (in the composition root):
 *
 *   const cfg = alertsConfigSchema.parse(yaml.alerts);           // or via the root's schema
 *   const { rules, inhibit } = resolveAlertRules(cfg);
 *   const sinks = createSinks(cfg.sinks, logger);
 *   const store = createSqliteOutboxStore(db);
 *   const worker = createOutboxWorker({ outbox: store, sinks, clock, logger });
 *   registerOutboxMetrics({ registry, outbox: worker });          // src/metrics/outbox.ts reads its OutboxFacts
 *   const outbox = wakeOnEnqueue(store, () => worker.wake());
 *   const engine = createAlertEngine({ rules, inhibit, route: cfg.route, signals$, runEvents$, outbox,
 *     alertStore: createSqliteAlertStateStore(db), silenceStore: createSqliteSilenceStore(db),
 *     clock, logger, publicUrl, resendIntervals: resendIntervalsOf(cfg.sinks) });
 *   registerAlertMetrics({ registry, alerts: engine });           // src/metrics/alerts.ts reads its AlertFacts
 *   // the engine keeps silences in memory: it re-reads them when any silence store on the same
 *   // database reports a change (SilenceStore.onChange) and every silenceRefreshMs (5 s) for other processes
 *   await worker.start(); await engine.start();
 *   // stop: await engine.stop(); await worker.stop(); await closeSinks(sinks); then close the db
 *   // (both are lifecycle Components: the daemon starts them in one ordered list, stops them in reverse)
 */
export * from './config';
export * from './duration';
export * from './matchers';
export * from './alert-engine';
export * from './outbox-worker';
export * from './notifications';
export * from './templates';
export { createSinks, createSink, closeSinks, verifyWebhookSignature, SIGNATURE_HEADER, DEDUP_HEADER } from './sinks';

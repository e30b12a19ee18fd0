/**
 * What the subsystems report to their metric collectors (src/metrics/, one file per metric
 * family). A subsystem keeps its own facts (counts of what happened, what holds now) and
 * implements the interface; the collector reads it at scrape time and owns every metric
 * definition (name, help, type, labels). Subsystems never import prom-client.
 */

/** Where the alert engine met an error it survived (label `stage` of supervisor_alerts_evaluation_errors_total). */
export type AlertEngineErrorStage = 'event' | 'tick' | 'input' | 'silences' | 'store' | 'notify';

/** Firing alert instances of one configured rule. */
export interface RuleFiring {
  rule: string;
  severity: string;
  firing: number;
}

/** The alert engine's facts, read by src/metrics/alerts.ts. */
export interface AlertFacts {
  /** Every configured rule, in config order, with how many of its instances are firing now (silenced and inhibited included). */
  firingByRule(): Iterable<RuleFiring>;
  /** Errors survived so far, by stage. */
  errorCounts(): Readonly<Record<AlertEngineErrorStage, number>>;
}

/** Outbox store operations whose failures the outbox worker survives (label `operation` of supervisor_alerts_outbox_errors_total). */
export type OutboxErrorOperation = 'due' | 'next_due' | 'mark' | 'prune' | 'idle' | 'unknown_sinks' | 'loop';

/** The result of one delivery attempt (label `result` of supervisor_alert_notifications_total). */
export type DeliveryResult = 'delivered' | 'retry' | 'dead';

/** Delivery attempts of one sink with one result. */
export interface DeliveryCount {
  sink: string;
  result: DeliveryResult;
  count: number;
}

/** The outbox worker's facts, read by src/metrics/outbox.ts. */
export interface OutboxFacts {
  /** Delivery attempts so far, by sink and result, in the order each pair first happened. */
  deliveryCounts(): Iterable<DeliveryCount>;
  /** Store errors survived so far, by operation. */
  errorCounts(): Readonly<Record<OutboxErrorOperation, number>>;
  /** Notifications waiting in the outbox for delivery now; throws when the store cannot answer (closed). */
  pendingCount(): number;
}

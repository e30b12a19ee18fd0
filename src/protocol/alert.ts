export type Severity = 'info' | 'warning' | 'critical';

/**
 * One message for the outside world, produced by the alert engine (policy) and handed to
 * sinks (delivery) through the durable outbox. Sinks render it; they decide nothing.
 */
export interface Notification {
  /**
   * Stable per (rule, group, transition, occurrence): a sink or the outbox that sees the same
   * key twice delivers once. E.g. `kafka_down|cluster=local|firing|1732800000000`.
   */
  dedupKey: string;
  /** `firing` and `resolved` come from alert rules; `info` is e.g. send_success_notification. */
  kind: 'firing' | 'resolved' | 'info';
  rule: string;
  severity: Severity;
  title: string;
  /** Plain-text body lines (what, since when, value vs threshold). */
  text: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** Epoch ms the condition started (firing) / ended (resolved) / the event happened (info). */
  startsAt: number;
  endsAt?: number;
  /** Link to health, a run or a dashboard. */
  url?: string;
  /** Signals or runs the notification is about (for templates). */
  items: ReadonlyArray<NotificationItem>;
}

/** One alert (or run) inside a notification. */
export interface NotificationItem {
  name: string;
  /** A `Status` for an alert item, a run state (`failed`, `success`) for a run item. */
  status: string;
  value?: number;
  threshold?: number;
  unit?: string;
  summary: string;
  /** The alert's own full label set (Alertmanager needs one label set per alert). */
  labels?: Readonly<Record<string, string>>;
  /** Epoch ms this alert started firing / resolved. */
  since?: number;
  endsAt?: number;
}

/** A delivery channel. `deliver` throws a SinkError to ask for a retry (or not). */
export interface AlertSink {
  readonly name: string;
  readonly type: 'slack' | 'email' | 'webhook' | 'alertmanager' | 'log';
  deliver(notification: Notification, signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

export class SinkError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** Milliseconds the receiver asked us to wait (HTTP Retry-After). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SinkError';
  }
}

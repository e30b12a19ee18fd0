/** Builds the configured sinks. Each only delivers; all policy lives in the engine. */
import type { AlertSink, Logger } from '../../src/protocol';
import type { AlertsConfig, SinkConfig } from '../config';
import { createAlertmanagerSink } from './alertmanager';
import { createEmailSink } from './email';
import { createLogSink } from './log';
import { createSlackSink } from './slack';
import { createWebhookSink } from './webhook';

export function createSink(name: string, config: SinkConfig, logger: Logger): AlertSink {
  switch (config.type) {
    case 'slack':
      return createSlackSink(name, config);
    case 'email':
      return createEmailSink(name, config);
    case 'webhook':
      return createWebhookSink(name, config);
    case 'alertmanager':
      return createAlertmanagerSink(name, config);
    case 'log':
      return createLogSink(name, logger);
  }
}

export function createSinks(config: AlertsConfig['sinks'], logger: Logger): AlertSink[] {
  return Object.entries(config).map(([name, sink]) => createSink(name, sink, logger));
}

/** Closes every sink (SMTP transports), even if one fails. */
export async function closeSinks(sinks: readonly AlertSink[]): Promise<void> {
  await Promise.allSettled(sinks.map(async (s) => s.close?.()));
}

export { createAlertmanagerSink, createEmailSink, createLogSink, createSlackSink, createWebhookSink };
export { verifyWebhookSignature, SIGNATURE_HEADER, DEDUP_HEADER } from './webhook';

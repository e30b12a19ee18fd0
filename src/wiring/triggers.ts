/**
 * The pipelines' trigger streams, wired at the root: cron schedules (streams/cron.ts), consumer
 * lag (streams/lag-trigger.ts) and new records on a topic (streams/offsets-trigger.ts), one
 * stream per trigger of every pipeline (paused ones too: the engine drops their ticks). The engine merges what this returns,
 * gates it and turns each trigger into a run; it builds no trigger stream itself.
 */
import type { Observable } from 'rxjs';
import type { Clock, Logger, Trigger } from '../protocol';
import type { KafkaConnection } from '../shared/kafka-connection';
import type { SchemaRegistryConnection } from '../shared/schema-registry-decoder';
import type { PipelineSpec } from '../engine/dag';
import { createCronTrigger$ } from '../../streams/cron';
import { createLagTrigger$ } from '../../streams/lag-trigger';
import { createOffsetsTrigger$ } from '../../streams/offsets-trigger';
import type { KafkaAdminSource } from '../../streams/trigger-kafka';

export interface PipelineTriggersParams {
  pipelines: readonly PipelineSpec[];
  /** The Kafka admin source the lag triggers (and the gates) read; absent: event triggers are disabled, said once each. */
  kafkaSource?: KafkaAdminSource;
  kafka?: {
    brokers: string[];
    clientId: string;
    connection?: KafkaConnection;
    schemaRegistryUrl?: string;
    schemaRegistry?: SchemaRegistryConnection;
  };
  clock: Clock;
  logger: Logger;
  /** Cron ticks the clock jumped over (counted as skipped ticks by the engine's metrics). */
  onMissedTicks: (pipeline: string, ticks: number) => void;
}

export type PipelineTriggersFactory = (params: PipelineTriggersParams) => Observable<Trigger>[];

export const createPipelineTriggers: PipelineTriggersFactory = ({ pipelines, kafkaSource, kafka, clock, logger, onMissedTicks }) => {
  const streams: Observable<Trigger>[] = [];
  for (const spec of pipelines) {
    // paused pipelines get their streams too: pause is the store's (it changes at run time), the engine drops their ticks
    if (spec.schedule) {
      streams.push(
        createCronTrigger$({
          pipeline: spec.id,
          schedule: spec.schedule,
          timezone: spec.timezone,
          clock,
          logger,
          onMissed: (ticks) => onMissedTicks(spec.id, ticks.length),
        }),
      );
    }
    for (const t of spec.triggers) {
      if (!kafkaSource || !kafka) {
        logger.warn({ pipeline: spec.id, trigger: t.type }, 'no Kafka connection configured; event trigger disabled');
        continue;
      }
      if (t.type === 'lag') {
        streams.push(
          createLagTrigger$({
            pipeline: spec.id,
            group: t.group,
            topic: t.topic,
            maxLag: t.max_lag,
            forMs: t.for,
            cooldownMs: t.cooldown,
            fetchLag: () => kafkaSource.lag(t.group, t.topic),
            clock,
            logger,
          }),
        );
      } else {
        streams.push(
          createOffsetsTrigger$({
            pipeline: spec.id,
            topic: t.topic,
            decode: t.decode,
            batchWindowMs: t.batch_window,
            maxBatch: t.max_batch,
            brokers: kafka.brokers,
            clientId: kafka.clientId,
            ...(kafka.connection ? { connection: kafka.connection } : {}),
            ...(kafka.schemaRegistryUrl ? { schemaRegistryUrl: kafka.schemaRegistryUrl } : {}),
            ...(kafka.schemaRegistry ? { schemaRegistry: kafka.schemaRegistry } : {}),
            clock,
            logger,
          }),
        );
      }
    }
  }
  return streams;
};

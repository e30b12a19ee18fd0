/**
 * Kafka checks run every 15 s; a broker that stops (or comes back) is noticed within about a
 * second by a TCP connect every 500 ms to each bootstrap broker, which runs the Kafka checks at
 * once. Together with the scheduler's confirmation runs this is what makes "broker down → alert"
 * take seconds with the default `for` of kafka_cluster_down.
 *
 * One reachability loop for the whole daemon: the kicks are a hot stream fed by one
 * subscription, started and stopped by the checks component, so however many probes wait on
 * it (and however often), there is one TCP-connect loop per broker and one log line per
 * transition.
 */
import { Subject, mergeMap, skip, type Observable, type Subscription } from 'rxjs';
import type { Logger } from '../protocol';
import type { SupervisorConfig } from '../config/schema';
import { createReachability$, type ReachabilityEvent, type ReachabilityParams } from '../../streams/reachability';
import { resolvedChecks } from './probes';

export interface BrokerKicks {
  /** Names of the Kafka checks to run now; hot, shared by every subscriber. */
  readonly kicks$: Observable<string>;
  /** Starts the one reachability loop (idempotent). */
  start(): void;
  stop(): void;
}

export interface BrokerKicksParams {
  config: SupervisorConfig;
  logger: Logger;
  /** The reachability source (tests count its subscriptions). */
  reachability$?: (params: ReachabilityParams) => Observable<ReachabilityEvent>;
}

export function createBrokerKicks(params: BrokerKicksParams): BrokerKicks {
  const kafkaChecks = resolvedChecks(params.config).filter((c) => c.enabled && (c.kind === 'kafka_cluster' || c.kind === 'consumer_lag'));
  const brokers = [...new Set(kafkaChecks.flatMap((c) => (c.options as { brokers: string[] }).brokers))];
  const kicks = new Subject<string>();
  const reachability$ = params.reachability$ ?? createReachability$;
  let subscription: Subscription | undefined;
  let stopped = false;
  return {
    kicks$: kicks.asObservable(),
    start() {
      if (subscription || stopped || brokers.length === 0) return;
      subscription = reachability$({ targets: brokers })
        .pipe(
          // the first state of each broker is what the first runs see anyway
          skip(brokers.length),
          mergeMap((event) => {
            params.logger.info(
              { component: 'checks', broker: event.target, reachable: event.reachable, error: event.error },
              `broker ${event.target} ${event.reachable ? 'accepts connections again' : 'refuses connections'}; running the Kafka checks now`,
            );
            return kafkaChecks.filter((c) => (c.options as { brokers: string[] }).brokers.includes(event.target)).map((c) => c.name);
          }),
        )
        .subscribe({
          next: (name) => kicks.next(name),
          error: (err: unknown) => params.logger.error({ err }, 'broker reachability stream failed; the Kafka checks keep their intervals'),
        });
    },
    stop() {
      stopped = true;
      subscription?.unsubscribe();
      subscription = undefined;
      kicks.complete();
    },
  };
}

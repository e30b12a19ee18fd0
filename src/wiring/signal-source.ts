/**
 * The `checks` component: the check probes on their schedule → signals → `state$`, with what
 * feeds them — the broker reachability loop (src/wiring/broker-kicks.ts) that runs the Kafka
 * checks at once when a broker stops or comes back, and the `__consumer_offsets` stream whose
 * commits the lag checks read. Nothing connects until start(); the probes run from then on and
 * no other component starts them.
 *
 * `state$` (streams/signal-state.ts) is the source of truth for the latest signals. It is a
 * shared, replaying stream; this component keeps it subscribed for its whole life (a StateView,
 * started before the probes connect, so the state sees every signal from the first on) and
 * offers synchronous readers that view: `signals()` for gauges, `/health` and pipeline gates.
 */
import { connectable, Subject, takeUntil, type Observable, type Subscription } from 'rxjs';
import type { SupervisorConfig } from '../config/schema';
import { SupervisorError, type CheckProbe, type Clock, type Component, type Logger, type Signal } from '../protocol';
import type { KafkaConnection } from '../shared/kafka-connection';
import { createSignals$ } from '../../streams/check-scheduler';
import { createConsumerOffsets$ } from '../../streams/consumer-offsets';
import { createSignalState$, signalChanges$, type SignalState } from '../../streams/signal-state';
import { createBrokerKicks, type BrokerKicks } from './broker-kicks';
import { createCheckProbes, createCommitStore, needsOffsetsStream } from './probes';
import { createStateView, type StateView } from './state-view';

export interface SignalSourceParams {
  config: SupervisorConfig;
  logger: Logger;
  clock: Clock;
  /** connections.kafka resolved, for the `__consumer_offsets` stream. */
  kafkaConnection: KafkaConnection;
  /** Probes the root adds to the configured checks (the schedule monitor's deadline and missed-schedule probes). */
  extraProbes?: readonly CheckProbe[];
}

export interface SignalSource extends Component {
  readonly name: 'checks';
  /** Latest signal per key and the summary; shared, replays the current state, emits on real changes only. */
  readonly state$: Observable<SignalState>;
  /** Every current signal at subscription, then each change (the alert engine's signal input). */
  readonly signals$: Observable<Signal>;
  /** The current signals (read from the view of `state$`); [] before the first. */
  signals(): Signal[];
}

export function createSignalSource(params: SignalSourceParams): SignalSource {
  return new ChecksComponent(params);
}

class ChecksComponent implements SignalSource {
  readonly name = 'checks';
  readonly state$: Observable<SignalState>;
  readonly signals$: Observable<Signal>;

  private readonly params: SignalSourceParams;
  private readonly logger: Logger;
  private readonly probes: CheckProbe[];
  private readonly commitStore: ReturnType<typeof createCommitStore> | undefined;
  private readonly brokerKicks: BrokerKicks;
  private readonly stop$ = new Subject<void>();
  private readonly live$: ReturnType<typeof connectable<Signal>>;
  private readonly view: StateView<SignalState>;
  private readonly subscriptions: Subscription[] = [];
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(params: SignalSourceParams) {
    this.params = params;
    const { config, logger, clock } = params;
    this.logger = logger;
    this.commitStore = needsOffsetsStream(config) ? createCommitStore() : undefined;
    const configured = createCheckProbes({ config, logger, clock, ...(this.commitStore ? { commitStore: this.commitStore } : {}) });
    for (const extra of params.extraProbes ?? []) {
      if (configured.some((p) => p.name === extra.name)) {
        throw new SupervisorError('SUP_ERR_CONFIG_INVALID', `check name "${extra.name}" is reserved for the supervisor's own ${extra.kind} probe; rename the check`, {
          where: `checks.${extra.name}`,
        });
      }
    }
    this.probes = [...configured, ...(params.extraProbes ?? [])];
    this.brokerKicks = createBrokerKicks({ config, logger });
    // hot: the probes run once, from connect() on, whoever listens
    this.live$ = connectable(createSignals$({ probes: this.probes, logger, clock, stop$: this.stop$, kicks$: this.brokerKicks.kicks$ }), {
      connector: () => new Subject<Signal>(),
      resetOnDisconnect: false,
    });
    this.state$ = createSignalState$(this.live$, { logger });
    this.signals$ = signalChanges$(this.state$);
    this.view = createStateView({ name: 'signal-state', state$: this.state$, logger });
  }

  signals(): Signal[] {
    const state = this.view.current();
    return state ? [...state.signals.values()] : [];
  }

  start(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.starting ??= this.connect();
    return this.starting;
  }

  stop(): Promise<void> {
    this.stopping ??= this.disconnect();
    return this.stopping;
  }

  private async connect(): Promise<void> {
    try {
      const { commitStore } = this;
      if (commitStore) {
        this.subscriptions.push(
          createConsumerOffsets$({ connection: this.params.kafkaConnection, logger: this.logger, clock: this.params.clock })
            .pipe(takeUntil(this.stop$))
            .subscribe({ next: (e) => commitStore.apply(e), error: (err: unknown) => this.logger.error({ err }, 'consumer offsets stream failed') }),
        );
      }
      // the state first: it sees every signal from the first one on
      await this.view.start();
      this.brokerKicks.start();
      this.subscriptions.push(this.live$.connect());
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.logger.info({ component: 'checks', checks: this.probes.map((p) => p.name) }, 'checks scheduled');
  }

  /** Every step runs even if one throws; never rejects. */
  private async disconnect(): Promise<void> {
    const step = (what: string, fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        this.logger.error({ component: 'checks', err }, `${what} failed while stopping; continuing`);
      }
    };
    step('ending the schedules', () => {
      this.stop$.next();
      this.stop$.complete();
    });
    step('stopping the broker reachability loop', () => this.brokerKicks.stop());
    for (const s of this.subscriptions.splice(0)) step('unsubscribing', () => s.unsubscribe());
    await this.view.stop();
    // probes are closed even when the component never started (a client may exist), so none outlives the daemon
    await Promise.allSettled(this.probes.map(async (p) => p.close?.()));
  }
}

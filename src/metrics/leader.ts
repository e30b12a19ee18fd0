/**
 * Which replica leads, read from the leadership at scrape time: `supervisor_leader{holder}` is 1
 * on the leader and 0 on the others (holder = this replica's id), `supervisor_leader_epoch` the
 * lease's current epoch as this replica last saw it (0 when unknown).
 */
import { Gauge, type Registry } from 'prom-client';
import type { LeaderStatus } from '../wiring/leadership';

export interface LeaderMetricsParams {
  registry: Registry;
  status: () => LeaderStatus;
}

export function registerLeaderMetrics({ registry, status }: LeaderMetricsParams): void {
  const registers = [registry];
  new Gauge({
    name: 'supervisor_leader',
    help: 'Whether this replica holds the leader lease (1) or not (0); holder is this replica (host:pid:random).',
    labelNames: ['holder'] as const,
    registers,
    collect() {
      const s = status();
      this.reset();
      this.set({ holder: s.id }, s.self ? 1 : 0);
    },
  });
  new Gauge({
    name: 'supervisor_leader_epoch',
    help: "The leader lease's epoch as this replica last saw it (grows by one on every new leader term; 0 when unknown).",
    registers,
    collect() {
      this.set(status().epoch ?? 0);
    },
  });
}

/** Why a run was requested. */
export type TriggerKind = 'cron' | 'manual' | 'lag' | 'offsets' | 'backfill' | 'test';

export const TRIGGER_KINDS: readonly TriggerKind[] = ['cron', 'manual', 'lag', 'offsets', 'backfill', 'test'];

export interface Trigger {
  pipeline: string;
  /** The schedule tick (or requested date) this run is for, epoch ms. One run per (pipeline, logicalDate). */
  logicalDate: number;
  kind: TriggerKind;
  /** Run parameters (Airflow's `conf`), e.g. a decoded `ingest-requests` record. */
  params: Readonly<Record<string, unknown>>;
  /** Epoch ms when the trigger fired (for schedule-delay metrics). */
  firedAt: number;
  /** Start a new run even if one exists for this logical date (`--rerun`). */
  rerun?: boolean;
  /** When set, the run is recorded as skipped with this reason instead of executing (gates). */
  skipReason?: string;
}

/**
 * The one lifecycle contract of everything the daemon starts (after Burrow's coordinators):
 *
 * - **configure** is the component's factory (`createXxx(params)`): it validates its options and
 *   connects to nothing, opens nothing, arms no timer. A configured component that is never
 *   started leaves nothing behind.
 * - **start** connects and subscribes, and returns promptly (it does not wait for a first
 *   result or a reachable peer: those become signals). If it fails half-way it undoes what it
 *   started before rejecting. Starting twice is a no-op.
 * - **stop** is idempotent (a second call returns the first call's promise), runs every
 *   clean-up step even when one throws, aborts pending waits, and never rejects: problems are
 *   logged by the component.
 *
 * The daemon (src/daemon.ts) starts its components in one ordered list — things taking
 * requests before things sending requests — and stops them in reverse (src/lifecycle.ts).
 * No component starts another's work as a side effect.
 */
export interface Component {
  /** Stable name, used in logs and in `/readyz` (`components.<name>`). */
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

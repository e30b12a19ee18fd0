/**
 * `runEvents$`: the engine's run and task transitions as one shared, replaying stream. One
 * upstream subscription however many consumers (the alert engine, the coming UI's live
 * updates); a late subscriber gets the latest event at once, then every later one; the
 * upstream subscription ends when the last consumer leaves.
 */
import type { Observable } from 'rxjs';
import { shareReplay } from 'rxjs/operators';
import type { RunEvent } from '../src/protocol';

export function createRunEvents$(events$: Observable<RunEvent>): Observable<RunEvent> {
  return events$.pipe(shareReplay({ bufferSize: 1, refCount: true }));
}

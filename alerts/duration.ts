/**
 * Durations as written in the alerts config: the one parser of src/shared/duration.ts
 * ("250ms", "30s", "5m", "4h", "1d", "1w", compound "1h30m"; a bare number is seconds).
 * Returns milliseconds; throws with a message saying what a duration looks like.
 */
import { parseDurationOrThrow } from '../src/shared/duration';

export function parseDuration(input: string | number): number {
  return parseDurationOrThrow(input);
}

/** Inverse for messages, two largest units: 90_000 → "1m30s", 7_200_000 → "2h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join('');
}

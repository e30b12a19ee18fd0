/**
 * Durations as written in the YAML config: "250ms", "30s", "5m", "4h", "1d", or compound
 * "1h30m". A bare "0" means zero. Returns milliseconds.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;

export function parseDuration(input: string): number {
  const text = input.trim();
  if (text === '0') return 0;
  if (text === '') throw new Error('empty duration (expected e.g. "30s", "5m", "4h")');
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = PART.exec(text)) !== null) {
    const [whole, amount, unit] = match;
    total += Number(amount) * (UNIT_MS[unit as string] as number);
    consumed += whole.length;
  }
  if (consumed !== text.length) throw new Error(`"${input}" is not a duration (expected e.g. "30s", "5m", "4h", "1h30m")`);
  return Math.round(total);
}

/** Inverse for messages: 90_000 → "1m30s", 7_200_000 → "2h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join('');
}

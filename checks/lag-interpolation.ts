/**
 * Time lag by interpolation (anchor: kafka-lag-exporter). Each lag cycle records the end offset
 * of every watched partition with the time it was read, in a small table of (offset, time)
 * points. "How far behind in seconds" is then: now minus the time at which the end offset
 * passed the group's committed offset, read off the table by linear interpolation (or
 * extrapolated from the table's average rate when the committed offset is older than the
 * table). Pure functions over plain arrays; no clocks of their own.
 */

export interface OffsetPoint {
  offset: number;
  /** Epoch ms the end offset was read. */
  time: number;
}

export const DEFAULT_TABLE_SIZE = 60;

/**
 * Adds a point (in place) and returns the table. Flat runs keep only their first and last
 * point; an end offset that goes backwards (topic recreated or truncated) restarts the table;
 * a point older than the newest is ignored.
 */
export function addOffsetPoint(table: OffsetPoint[], point: OffsetPoint, maxPoints = DEFAULT_TABLE_SIZE): OffsetPoint[] {
  const last = table[table.length - 1];
  if (last) {
    if (point.time < last.time) return table;
    if (point.offset < last.offset) table.length = 0;
    else {
      const beforeLast = table[table.length - 2];
      if (point.offset === last.offset && beforeLast && beforeLast.offset === last.offset) {
        last.time = point.time;
        return table;
      }
      if (point.time === last.time) {
        last.offset = point.offset;
        return table;
      }
    }
  }
  table.push({ offset: point.offset, time: point.time });
  while (table.length > Math.max(2, maxPoints)) table.shift();
  return table;
}

/** The end offset at `time`, interpolated; clamped to the table's first/last point outside it. */
export function offsetAt(table: readonly OffsetPoint[], time: number): number | null {
  const first = table[0];
  const last = table[table.length - 1];
  if (!first || !last) return null;
  if (time <= first.time) return first.offset;
  if (time >= last.time) return last.offset;
  for (let i = 1; i < table.length; i += 1) {
    const b = table[i]!;
    if (b.time < time) continue;
    const a = table[i - 1]!;
    if (b.time === a.time) return b.offset;
    return a.offset + ((b.offset - a.offset) * (time - a.time)) / (b.time - a.time);
  }
  return last.offset;
}

/** When the end offset reached `offset` (epoch ms), or null when the table can't say. */
export function timeAt(table: readonly OffsetPoint[], offset: number): number | null {
  const first = table[0];
  const last = table[table.length - 1];
  if (!first || !last) return null;
  if (offset >= last.offset) return last.time;
  if (offset < first.offset) {
    // Older than the table: extrapolate at the table's average production rate.
    if (last.offset === first.offset || last.time === first.time) return null;
    const rate = (last.offset - first.offset) / (last.time - first.time);
    return first.time - (first.offset - offset) / rate;
  }
  for (let i = 1; i < table.length; i += 1) {
    const b = table[i]!;
    if (b.offset <= offset) continue;
    const a = table[i - 1]!;
    return a.time + ((offset - a.offset) * (b.time - a.time)) / (b.offset - a.offset);
  }
  return last.time;
}

/**
 * Seconds the group is behind on one partition: 0 when caught up, null when unknown (no
 * commit, or too little history to extrapolate).
 */
export function estimateLagSeconds(table: readonly OffsetPoint[], committedOffset: number | null, now: number): number | null {
  if (committedOffset === null) return null;
  const last = table[table.length - 1];
  if (!last) return null;
  if (committedOffset >= last.offset) return 0;
  const t = timeAt(table, committedOffset);
  if (t === null) return null;
  return Math.max(0, (now - t) / 1000);
}

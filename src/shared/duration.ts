/**
 * The one duration parser. Everywhere a duration is read — the YAML config, check options,
 * API bodies, CLI flags — it goes through here, so `5` means the same thing everywhere:
 *
 * - a string with units: `250ms`, `15s`, `30m`, `2h`, `1d`, `1w`, or compound `1h30m`
 *   (whitespace between the parts is ignored);
 * - a bare number, or a string that is only a number (`90`, `"1.5"`): **seconds**;
 * - never negative, never more than LIMITS.durationMaxMs (366 days), never NaN/Infinity
 *   (`1e20` and `99999999999999999999d` are errors, not "fires after 1 ms").
 *
 * Waits longer than one Node timer can hold (2^31 − 1 ms ≈ 24.8 days) are slept in bounded
 * steps by the clock (see MAX_TIMER_MS); settings fed to a single timer are bounded by it.
 */
import { z } from 'zod';
import { LIMITS } from './limits';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const NUMBER = /^\d+(?:\.\d+)?$/;
const COMPOUND = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
/** Longer input is never a duration; it is not even scanned. */
const MAX_TEXT = 64;

/** The longest delay one Node.js timer accepts; beyond it Node fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const DURATION_HINT = 'a duration such as "30s", "15m" or "2h"';
const SYNTAX = 'units are ms s m h d w, compound as "1h30m", a bare number is seconds';

export interface DurationBounds {
  /** Smallest accepted value in ms (default 0). */
  min?: number;
  /** Largest accepted value in ms (default LIMITS.durationMaxMs). */
  max?: number;
}

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

/** Parses and bounds a duration; never throws. */
export function readDuration(input: unknown, bounds: DurationBounds = {}): DurationResult {
  const min = bounds.min ?? 0;
  const max = bounds.max ?? LIMITS.durationMaxMs;
  let ms: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return { ok: false, message: `expected ${DURATION_HINT}, got ${String(input)}` };
    ms = input * 1000;
  } else if (typeof input === 'string') {
    const text = input.length > MAX_TEXT ? input : input.replace(/\s+/g, '');
    if (text.length === 0) return { ok: false, message: `expected ${DURATION_HINT}, got an empty string` };
    if (text.length > MAX_TEXT) return { ok: false, message: `expected ${DURATION_HINT}, got ${input.length} characters` };
    if (NUMBER.test(text)) ms = Number(text) * 1000;
    else if (COMPOUND.test(text)) {
      ms = 0;
      for (const [, amount, unit] of text.matchAll(PART)) ms += Number(amount) * UNIT_MS[unit!]!;
    } else return { ok: false, message: `expected ${DURATION_HINT}, got ${JSON.stringify(input)} (${JSON.stringify(input)} is not a duration: ${SYNTAX})` };
  } else {
    return { ok: false, message: `expected ${DURATION_HINT}, got ${input === null ? 'null' : typeof input}` };
  }
  if (!Number.isFinite(ms) || ms > max) return { ok: false, message: `${describe(input)} is longer than the maximum of ${describeMax(max)}` };
  ms = Math.round(ms);
  if (ms < min) return { ok: false, message: `${describe(input)} is shorter than the minimum of ${formatDuration(min)}` };
  return { ok: true, ms };
}

function describeMax(max: number): string {
  return max === MAX_TIMER_MS ? '24d20h (2^31−1 ms, the longest one timer waits)' : formatDuration(max);
}

function describe(input: unknown): string {
  return typeof input === 'string' ? JSON.stringify(input) : String(input);
}

/** Milliseconds, or null when the input is not a duration within the bounds. */
export function parseDuration(input: string | number, bounds?: DurationBounds): number | null {
  const r = readDuration(input, bounds);
  return r.ok ? r.ms : null;
}

export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

/** Milliseconds, or a DurationError whose message names `field` when given. */
export function parseDurationOrThrow(input: unknown, field?: string, bounds?: DurationBounds): number {
  const r = readDuration(input, bounds);
  if (!r.ok) throw new DurationError(field ? `${field}: ${r.message}` : r.message);
  return r.ms;
}

/** 90_000 → "1m30s", 7_200_000 → "2h", 500 → "500ms", 86_400_000 → "1d". Exact: parses back to the same value. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

/**
 * zod type of a duration (number of seconds or a string with units) → milliseconds, bounded.
 * `durationMs` is the default bounds (0 … 366 days); `durationSchema({ min, max })` others.
 */
export function durationSchema(bounds: DurationBounds = {}) {
  return z
    .custom<string | number>(() => true)
    .transform((value, ctx) => {
      const r = readDuration(value, bounds);
      if (!r.ok) {
        ctx.addIssue({ code: 'custom', message: r.message });
        return z.NEVER;
      }
      return r.ms;
    });
}

export const durationMs = durationSchema();

/** A duration that feeds one timer directly (check interval/timeout, sink timeout): at most MAX_TIMER_MS. */
export const timerDurationMs = durationSchema({ max: MAX_TIMER_MS });

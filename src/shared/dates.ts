/**
 * Strict date parsing for the CLI and the API: an ISO 8601 calendar date (`2025-10-05`, UTC
 * midnight, as Airflow reads a bare date) or a date-time with a zone (`2025-10-05T06:00:00Z`,
 * `…+02:00`), years 0001–9999, and nothing that JavaScript's Date would roll over
 * (`2025-02-30` is an error, not 2 March).
 */
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** The latest instant accepted anywhere a date is read: 9999-12-31T23:59:59.999Z. */
export const MAX_EPOCH_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** The earliest: 0001-01-01T00:00:00Z. */
export const MIN_EPOCH_MS = -62_135_596_800_000;

export class DateParseError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'DateParseError';
  }
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS[month - 1]!;
}

function checkCalendar(field: string, text: string, y: number, mo: number, d: number): void {
  if (y < 1 || y > 9999) throw new DateParseError(field, `"${text}" has year ${y}; years 0001 to 9999 are accepted`);
  if (mo < 1 || mo > 12) throw new DateParseError(field, `"${text}" has month ${mo}; months are 01 to 12`);
  const max = daysInMonth(y, mo);
  if (d < 1 || d > max) throw new DateParseError(field, `"${text}" is not a date: ${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')} has ${max} days`);
}

function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  // Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not.
  const date = new Date(Date.UTC(2000, mo - 1, d, h, mi, s, ms));
  date.setUTCFullYear(y);
  return date.getTime();
}

/**
 * Parses `text` into epoch milliseconds or throws a DateParseError naming `field`.
 * Accepts `YYYY-MM-DD` and `YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM)`.
 */
export function parseStrictDate(text: string, field: string): number {
  const input = text.trim();
  const hint = 'use a date such as 2025-10-05 or a date-time with a zone such as 2025-10-05T06:00:00Z';
  if (input.length > 40) throw new DateParseError(field, `is ${input.length} characters long; ${hint}`);
  const dm = DATE.exec(input);
  if (dm) {
    const [y, mo, d] = [Number(dm[1]), Number(dm[2]), Number(dm[3])];
    checkCalendar(field, input, y, mo, d);
    return utc(y, mo, d);
  }
  const m = DATE_TIME.exec(input);
  if (!m) throw new DateParseError(field, `"${input}" is not a date; ${hint}`);
  const [y, mo, d, h, mi] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])];
  const s = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  checkCalendar(field, input, y, mo, d);
  if (h > 23 || mi > 59 || s > 59) throw new DateParseError(field, `"${input}" has an impossible time of day`);
  let offsetMin = 0;
  const zone = m[8]!;
  if (zone.toUpperCase() !== 'Z') {
    const digits = zone.replace(':', '');
    const oh = Number(digits.slice(1, 3));
    const om = Number(digits.slice(3, 5));
    if (oh > 23 || om > 59) throw new DateParseError(field, `"${input}" has an impossible zone offset ${zone}`);
    offsetMin = (digits[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const epoch = utc(y, mo, d, h, mi, s, ms) - offsetMin * 60_000;
  if (epoch < MIN_EPOCH_MS || epoch > MAX_EPOCH_MS) throw new DateParseError(field, `"${input}" is outside years 0001 to 9999`);
  return epoch;
}

/** Epoch milliseconds as accepted from an API body: an integer within the date bounds. */
export function checkEpochMs(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_EPOCH_MS) {
    throw new DateParseError(field, `${value} is not an epoch-milliseconds timestamp between 0 and ${MAX_EPOCH_MS} (9999-12-31)`);
  }
  return value;
}

import { checkEpochMs, DateParseError, MAX_EPOCH_MS, MIN_EPOCH_MS, parseStrictDate } from '../../../src/shared/dates';

const problem = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DateParseError);
    return (err as Error).message;
  }
  throw new Error('expected a DateParseError');
};

describe('parseStrictDate', () => {
  it('reads a calendar date as UTC midnight and a date-time with its zone', () => {
    expect(parseStrictDate('2025-10-05', 'logical_date')).toBe(Date.UTC(2025, 9, 5));
    expect(parseStrictDate('2025-10-05T06:00:00Z', 'x')).toBe(Date.UTC(2025, 9, 5, 6));
    expect(parseStrictDate('2025-10-05T06:00Z', 'x')).toBe(Date.UTC(2025, 9, 5, 6));
    expect(parseStrictDate('2025-10-05 06:00:00z', 'x')).toBe(Date.UTC(2025, 9, 5, 6));
    expect(parseStrictDate('2025-10-05T08:00:00+02:00', 'x')).toBe(Date.UTC(2025, 9, 5, 6));
    expect(parseStrictDate('2025-10-05T01:30:00-0430', 'x')).toBe(Date.UTC(2025, 9, 5, 6));
    expect(parseStrictDate('2025-10-05T06:00:00.123456789Z', 'x')).toBe(Date.UTC(2025, 9, 5, 6, 0, 0, 123));
    expect(parseStrictDate('  2025-10-05  ', 'x')).toBe(Date.UTC(2025, 9, 5));
  });

  it('accepts 29 February in leap years only (400-year rule included)', () => {
    expect(parseStrictDate('2024-02-29', 'x')).toBe(Date.UTC(2024, 1, 29));
    expect(parseStrictDate('2000-02-29', 'x')).toBe(Date.UTC(2000, 1, 29));
    expect(problem(() => parseStrictDate('1900-02-29', 'x'))).toBe('x: "1900-02-29" is not a date: 1900-02 has 28 days');
    expect(problem(() => parseStrictDate('2025-02-29', 'x'))).toContain('2025-02 has 28 days');
  });

  it('refuses what Date would roll over, naming the field', () => {
    expect(problem(() => parseStrictDate('2025-02-30', 'start_date'))).toBe('start_date: "2025-02-30" is not a date: 2025-02 has 28 days');
    expect(problem(() => parseStrictDate('2025-04-31', 'x'))).toContain('2025-04 has 30 days');
    expect(problem(() => parseStrictDate('2025-13-01', 'x'))).toBe('x: "2025-13-01" has month 13; months are 01 to 12');
    expect(problem(() => parseStrictDate('2025-00-10', 'x'))).toContain('has month 0');
    expect(problem(() => parseStrictDate('2025-01-00', 'x'))).toContain('has 31 days');
    expect(problem(() => parseStrictDate('2025-10-05T24:00:00Z', 'x'))).toContain('impossible time of day');
    expect(problem(() => parseStrictDate('2025-10-05T23:60:00Z', 'x'))).toContain('impossible time of day');
    expect(problem(() => parseStrictDate('2025-10-05T23:59:60Z', 'x'))).toContain('impossible time of day');
    expect(problem(() => parseStrictDate('2025-10-05T06:00:00+24:00', 'x'))).toContain('impossible zone offset');
    expect(problem(() => parseStrictDate('2025-10-05T06:00:00+02:60', 'x'))).toContain('impossible zone offset');
  });

  it('accepts years 0001 to 9999 only, also after applying the zone', () => {
    expect(parseStrictDate('0001-01-01', 'x')).toBe(MIN_EPOCH_MS);
    expect(parseStrictDate('0099-06-01', 'x')).toBe(Date.parse('0099-06-01T00:00:00Z'));
    expect(parseStrictDate('9999-12-31T23:59:59.999Z', 'x')).toBe(MAX_EPOCH_MS);
    expect(problem(() => parseStrictDate('0000-01-01', 'x'))).toBe('x: "0000-01-01" has year 0; years 0001 to 9999 are accepted');
    expect(problem(() => parseStrictDate('9999-12-31T23:30:00-01:00', 'x'))).toContain('outside years 0001 to 9999');
    expect(problem(() => parseStrictDate('0001-01-01T00:30:00+01:00', 'x'))).toContain('outside years 0001 to 9999');
  });

  it('refuses anything that is not an ISO 8601 date or a date-time with a zone', () => {
    for (const text of ['', 'yesterday', '2025-10-05T06:00:00', '2025-1-5', '20251005', '+002025-10-05', '2025-10-05T06Z', 'Sun, 05 Oct 2025 06:00:00 GMT', '1759644000000']) {
      expect(problem(() => parseStrictDate(text, 'logical_date'))).toMatch(/^logical_date: .*(not a date|characters long)/);
    }
    expect(problem(() => parseStrictDate('2'.repeat(41), 'x'))).toBe(
      'x: is 41 characters long; use a date such as 2025-10-05 or a date-time with a zone such as 2025-10-05T06:00:00Z',
    );
  });
});

describe('checkEpochMs', () => {
  it('passes an integer between 0 and 9999-12-31 through', () => {
    expect(checkEpochMs(0, 'x')).toBe(0);
    expect(checkEpochMs(1_759_644_000_000, 'x')).toBe(1_759_644_000_000);
    expect(checkEpochMs(MAX_EPOCH_MS, 'x')).toBe(MAX_EPOCH_MS);
  });

  it('refuses negative, fractional, unsafe and out-of-range numbers, naming the field', () => {
    for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 8.64e15, 9e15, MAX_EPOCH_MS + 1, 2 ** 53]) {
      expect(problem(() => checkEpochMs(value, 'body.logical_date'))).toMatch(/^body\.logical_date: .* is not an epoch-milliseconds timestamp between 0 and \d+ \(9999-12-31\)$/);
    }
  });
});

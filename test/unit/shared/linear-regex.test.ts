import { compileLinearRegex, regexProblem, RegexSyntaxError } from '../../../src/shared/linear-regex';
import { LIMITS } from '../../../src/shared/limits';

describe('compileLinearRegex (RE2 semantics via re2js)', () => {
  it('anchors to the whole value for matchers, searches for include/exclude', () => {
    const full = compileLinearRegex('data_stale|consumer_lag_high', 'matchers.alertname', 'full');
    expect(full.test('data_stale')).toBe(true);
    expect(full.test('consumer_lag_high')).toBe(true);
    expect(full.test('xdata_stale')).toBe(false);
    const search = compileLinearRegex('-b$', 'checks.lag.exclude[0]', 'search');
    expect(search.test('etl-b')).toBe(true);
    expect(search.test('etl-bc')).toBe(false);
    expect(compileLinearRegex('^pipeline-supervisor-offsets-', 'x', 'search').test('pipeline-supervisor-offsets-1')).toBe(true);
  });

  it('evaluates the reported catastrophic pattern without backtracking', () => {
    // With a backtracking engine `^(?:(.*.*)*x)$` on 40 a's takes longer than the universe; RE2 is linear.
    const re = compileLinearRegex('(.*.*)*x', 'matchers.alertname', 'full');
    expect(re.test('a'.repeat(40))).toBe(false);
    expect(re.test(`${'a'.repeat(10_000)}x`)).toBe(true);
    expect(compileLinearRegex('(a+)+$', 'include[0]', 'search').test(`${'a'.repeat(10_000)}!`)).toBe(false);
  });

  it('refuses what RE2 cannot run in linear time, naming the field', () => {
    for (const [pattern, reason] of [
      ['(?=x)', /look-around|Perl syntax/],
      ['(a)\\1', /escape/],
      ['(', /missing closing \)/],
    ] as const) {
      let caught: unknown;
      try {
        compileLinearRegex(pattern, 'alerts.rules[2].match.labels.severity');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(RegexSyntaxError);
      expect((caught as Error).message).toMatch(/^alerts\.rules\[2\]\.match\.labels\.severity: invalid regular expression/);
      expect((caught as Error).message).toMatch(reason);
      expect((caught as RegexSyntaxError).field).toBe('alerts.rules[2].match.labels.severity');
    }
  });

  it('limits the pattern length to LIMITS.regexLength', () => {
    expect(regexProblem('a'.repeat(LIMITS.regexLength))).toBeUndefined();
    expect(() => compileLinearRegex('a'.repeat(LIMITS.regexLength + 1), 'matchers.check')).toThrow(
      new RegExp(`^matchers\\.check: .* is ${LIMITS.regexLength + 1} characters long; at most ${LIMITS.regexLength}`),
    );
  });

  it('caches compiled programs per pattern and anchoring', () => {
    const a = compileLinearRegex('gold_.*', 'f', 'full');
    expect(compileLinearRegex('gold_.*', 'g', 'full')).toBe(a);
    expect(compileLinearRegex('gold_.*', 'f', 'search')).not.toBe(a);
  });
});

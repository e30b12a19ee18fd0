/**
 * The one way a user-supplied regular expression is compiled: silences, rule and inhibition
 * matchers, `consumer_lag` include/exclude. RE2 semantics (re2js): matching time is linear in
 * the input whatever the pattern, so `(.*.*)*x` cannot freeze the process. RE2 has no
 * look-around and no back-references; such patterns are refused with a message naming the
 * field. Patterns are length-limited (LIMITS.regexLength) and compiled programs are kept in a
 * small LRU cache. Fixed patterns written in our own code stay native RegExps.
 */
import { LRUCache } from 'lru-cache';
import { RE2JS } from 're2js';
import { LIMITS } from './limits';

/**
 * `full`: the whole value must match, as Alertmanager's `=~` (`^(?:re)$`).
 * `search`: a match anywhere, as JavaScript's `RegExp.test` (write `^`/`$` yourself).
 */
export type RegexAnchor = 'full' | 'search';

export interface LinearRegex {
  readonly source: string;
  readonly anchor: RegexAnchor;
  test(input: string): boolean;
}

export class RegexSyntaxError extends Error {
  constructor(
    /** Where the pattern came from: `matchers.alertname`, `checks.lag.include[0]`. */
    readonly field: string,
    readonly pattern: string,
    /** What is wrong, without the field. */
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'RegexSyntaxError';
  }
}

const CACHE_SIZE = 512;
const cache = new LRUCache<string, LinearRegex>({ max: CACHE_SIZE });

function quote(pattern: string): string {
  const shown = pattern.length > 60 ? `${pattern.slice(0, 57)}...` : pattern;
  return JSON.stringify(shown);
}

/** Why `pattern` is refused, or undefined when it compiles. */
function compileOrReason(pattern: string, anchor: RegexAnchor): LinearRegex | string {
  if (typeof pattern !== 'string') return 'a regular expression must be a string';
  if (pattern.length > LIMITS.regexLength) {
    return `regular expression ${quote(pattern)} is ${pattern.length} characters long; at most ${LIMITS.regexLength} are accepted`;
  }
  const key = `${anchor}\u0000${pattern}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    const detail = ((err as Error)?.message ?? String(err)).replace(/^error parsing regexp:\s*/, '');
    return `invalid regular expression ${quote(pattern)}: ${detail} (RE2 syntax: no look-around, no back-references)`;
  }
  const compiled: LinearRegex =
    anchor === 'full' ? { source: pattern, anchor, test: (input: string) => re.testExact(input) } : { source: pattern, anchor, test: (input: string) => re.test(input) };
  cache.set(key, compiled);
  return compiled;
}

/** Compiles `pattern` (linear-time engine) or throws a RegexSyntaxError naming `field`. */
export function compileLinearRegex(pattern: string, field: string, anchor: RegexAnchor = 'full'): LinearRegex {
  const out = compileOrReason(pattern, anchor);
  if (typeof out === 'string') throw new RegexSyntaxError(field, String(pattern), out);
  return out;
}

/** The reason `pattern` is refused (without the field), or undefined when it is accepted. */
export function regexProblem(pattern: string, anchor: RegexAnchor = 'full'): string | undefined {
  const out = compileOrReason(pattern, anchor);
  return typeof out === 'string' ? out : undefined;
}

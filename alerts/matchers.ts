/**
 * Label matchers shared by rules, inhibition and silences: `{ label: "exact" }` or
 * `{ label: "~regex" }` (anchored, like Alertmanager's `=~`). A missing label is the empty
 * string, so `{ layer: "" }` matches alerts without `layer`. Regexes run on the linear-time
 * engine (src/shared/linear-regex): a matcher can never hang evaluation.
 */
import { compileLinearRegex, regexProblem, RegexSyntaxError } from '../src/shared/linear-regex';

export type Matchers = Readonly<Record<string, string>>;

/** A compiled matcher set: true when every matcher accepts the labels. */
export type LabelPredicate = (labels: Readonly<Record<string, string>>) => boolean;

/** Every problem of `matchers`, each naming its field (`${where}.${label}: …`); empty when all compile. */
export function matcherProblems(matchers: Matchers, where: string): string[] {
  const problems: string[] = [];
  for (const [label, value] of Object.entries(matchers)) {
    if (typeof value !== 'string') {
      problems.push(`${where}.${label}: must be a string (an exact value or ~regex)`);
      continue;
    }
    if (!value.startsWith('~')) continue;
    const problem = regexProblem(value.slice(1), 'full');
    if (problem) problems.push(`${where}.${label}: ${problem}`);
  }
  return problems;
}

/** Throws a RegexSyntaxError naming the first bad field when a `~regex` value does not compile (use at config time). */
export function validateMatchers(matchers: Matchers, where: string): void {
  for (const [label, value] of Object.entries(matchers)) {
    if (typeof value === 'string' && value.startsWith('~')) compileLinearRegex(value.slice(1), `${where}.${label}`, 'full');
  }
}

/** Compiles `matchers` once (throws a RegexSyntaxError naming `${where}.${label}` for a bad regex). */
export function compileMatchers(matchers: Matchers, where = 'matchers'): LabelPredicate {
  const tests: Array<(labels: Readonly<Record<string, string>>) => boolean> = [];
  for (const [label, expected] of Object.entries(matchers)) {
    if (expected.startsWith('~')) {
      const re = compileLinearRegex(expected.slice(1), `${where}.${label}`, 'full');
      tests.push((labels) => re.test(labels[label] ?? ''));
    } else {
      tests.push((labels) => (labels[label] ?? '') === expected);
    }
  }
  return (labels) => tests.every((t) => t(labels));
}

export function matchesLabels(matchers: Matchers, labels: Readonly<Record<string, string>>): boolean {
  for (const [label, expected] of Object.entries(matchers)) {
    const actual = labels[label] ?? '';
    if (expected.startsWith('~')) {
      if (!compileLinearRegex(expected.slice(1), `matchers.${label}`, 'full').test(actual)) return false;
    } else if (actual !== expected) return false;
  }
  return true;
}

export { RegexSyntaxError };

/** Stable text form of a label set: `a="1",b="2"` sorted by name. */
export function labelsKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

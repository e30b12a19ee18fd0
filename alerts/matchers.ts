/**
 * Label matchers shared by rules, inhibition and silences: `{ label: "exact" }` or
 * `{ label: "~regex" }` (anchored, like Alertmanager's `=~`). A missing label is the empty
 * string, so `{ layer: "" }` matches alerts without `layer`.
 */
export type Matchers = Readonly<Record<string, string>>;

const regexCache = new Map<string, RegExp>();

function compile(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

/** Throws a clear error when a `~regex` value does not compile (use at config time). */
export function validateMatchers(matchers: Matchers, where: string): void {
  for (const [label, value] of Object.entries(matchers)) {
    if (value.startsWith('~')) {
      try {
        compile(value.slice(1));
      } catch (err) {
        throw new Error(`${where}.${label}: invalid regular expression ${JSON.stringify(value.slice(1))}: ${(err as Error).message}`);
      }
    }
  }
}

export function matchesLabels(matchers: Matchers, labels: Readonly<Record<string, string>>): boolean {
  for (const [label, expected] of Object.entries(matchers)) {
    const actual = labels[label] ?? '';
    if (expected.startsWith('~')) {
      if (!compile(expected.slice(1)).test(actual)) return false;
    } else if (actual !== expected) return false;
  }
  return true;
}

/** Stable text form of a label set: `a="1",b="2"` sorted by name. */
export function labelsKey(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

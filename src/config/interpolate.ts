/**
 * `${ENV}`, `${ENV:-default}` and `{{ var.name }}` references inside YAML string scalars.
 * A string that is exactly one reference keeps its type when the value is a YAML-ish number
 * or boolean is NOT attempted: values stay strings and the schema coerces where it wants to.
 */
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const VAR_REF = /\{\{\s*var\.([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

export interface InterpolationContext {
  env: Readonly<Record<string, string | undefined>>;
  variables: Readonly<Record<string, string>>;
}

export interface InterpolationProblem {
  message: string;
}

export function interpolate(text: string, ctx: InterpolationContext, problems: InterpolationProblem[]): string {
  const withEnv = text.replace(ENV_REF, (whole, name: string, fallback: string | undefined) => {
    // own properties only: `${__proto__}` or `${constructor}` is an unset variable, not Object's
    const value = Object.hasOwn(ctx.env, name) ? ctx.env[name] : undefined;
    if (typeof value === 'string' && value !== '') return value;
    if (fallback !== undefined) return fallback;
    problems.push({ message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)` });
    return whole;
  });
  return withEnv.replace(VAR_REF, (whole, name: string) => {
    const value = Object.hasOwn(ctx.variables, name) ? ctx.variables[name] : undefined;
    if (typeof value === 'string') return value;
    problems.push({ message: `variable "${name}" is not defined (set it with \`supervisor variables set ${name} VALUE\` or under variables: in the config)` });
    return whole;
  });
}

export function hasReferences(text: string): boolean {
  ENV_REF.lastIndex = 0;
  VAR_REF.lastIndex = 0;
  return ENV_REF.test(text) || VAR_REF.test(text);
}

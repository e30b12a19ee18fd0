/**
 * The effective configuration with secrets replaced, for `supervisor config show` and the API.
 * A key is secret when its name says so; webhook URLs (Slack's carry the credential in the
 * path) are secret too.
 */
const SECRET_KEY = /(password|secret|token|api_?key|authorization|webhook|access_key_id)/i;

export function redactConfig(value: unknown, key = '', parent: Record<string, unknown> | null = null): unknown {
  if (Array.isArray(value)) return value.map((v) => redactConfig(v, key, parent));
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, redactConfig(v, k, obj)]));
  }
  if (value === undefined || value === null || value === '') return value;
  if (SECRET_KEY.test(key)) return '[redacted]';
  if (key === 'url' && parent && (parent.type === 'slack' || parent.type === 'webhook')) return '[redacted]';
  if (typeof value === 'string' && /^[a-z]+:\/\/[^/\s]*:[^/\s]*@/i.test(value)) return value.replace(/\/\/[^/\s]*@/, '//[redacted]@');
  return value;
}

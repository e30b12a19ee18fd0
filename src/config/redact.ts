/**
 * The effective configuration with secrets replaced, for `supervisor config show` and the API.
 * A key is secret when its name says so (password, secret, token, api key, authorization,
 * access key id, key_password, session_token, client_secret — but not token_endpoint_url); every value under a `headers` map is secret
 * (proxies take API keys in headers of any name); webhook URLs (Slack's carry the credential in
 * the path) are secret too. A `<key>_file` names where a secret is, not the secret: its path
 * is shown.
 */
const SECRET_KEY = /(password|secret|token|api[_-]?key|authorization|webhook|access_key_id|accesskeyid|passphrase)/i;
const FILE_KEY = /_file$|File$/;
/** Named like a secret but not one: where an OAUTHBEARER token comes from (connections.kafka.sasl). */
const NOT_SECRET_KEY = /^(token_endpoint_url|tokenEndpointUrl)$/;

export function redactConfig(value: unknown, key = '', parent: Record<string, unknown> | null = null, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactConfig(v, key, parent, parentKey));
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, redactConfig(v, k, obj, key)]));
  }
  if (value === undefined || value === null || value === '') return value;
  if (/^headers$/i.test(parentKey) && typeof value !== 'boolean') return '[redacted]';
  if (SECRET_KEY.test(key) && !NOT_SECRET_KEY.test(key) && !(FILE_KEY.test(key) && typeof value === 'string')) return '[redacted]';
  if (key === 'url' && parent && (parent.type === 'slack' || parent.type === 'webhook')) return '[redacted]';
  if (typeof value === 'string' && /^[a-z]+:\/\/[^/\s]*:[^/\s]*@/i.test(value)) return value.replace(/\/\/[^/\s]*@/, '//[redacted]@');
  return value;
}

/**
 * TLS for every client the supervisor opens (schema registry, S3, Spark, Kafka): the files of a
 * configuration's TLS settings read into Node TLS options, and Node's TLS failures turned into
 * one plain sentence naming the certificate problem and the host.
 *
 * - `tlsSettingsShape` / `tlsSettingsSchema`: the camelCase option fields (`caFile`, `certFile`,
 *   `keyFile`, `keyPassword`, `servername`, `rejectUnauthorized`; YAML `ca_file`, …) to spread
 *   into a client's options schema.
 * - `readTlsFiles(settings, where)`: reads the files into `{ ca, cert, key, passphrase,
 *   servername, rejectUnauthorized }` (what `tls.connect`, `https.Agent`, undici's `connect`
 *   and kafkajs' `ssl` take). Errors name the YAML key and the path, never a file's content.
 * - `describeTlsError(err, host)`: the sentence for a failed handshake, or null when `err` is
 *   no TLS problem (then report it as usual).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { SupervisorError } from '../protocol';
import { fileProblem, readSecretFile } from './secrets';

/** TLS settings as options carry them (camelCase; the YAML keys are their snake_case). */
export interface TlsSettings {
  /** PEM file of the CA(s) to trust instead of Node's bundled roots. */
  caFile?: string | undefined;
  /** PEM client certificate (mutual TLS), with `keyFile`. */
  certFile?: string | undefined;
  /** PEM private key of `certFile`. */
  keyFile?: string | undefined;
  /** Passphrase of an encrypted `keyFile` (a secret: redacted, may be `${ENV}`). */
  keyPassword?: string | undefined;
  /** File holding `keyPassword` (a secret mount). */
  keyPasswordFile?: string | undefined;
  /** Name to verify the server certificate against (SNI), when it differs from the host connected to. */
  servername?: string | undefined;
  /** false accepts any certificate: for a test bench only. Default true. */
  rejectUnauthorized?: boolean | undefined;
}

/** Node TLS options, as `tls.connect`, `https.Agent`, undici's `connect` and kafkajs' `ssl` take them. */
export interface TlsOptions {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
  servername?: string;
  rejectUnauthorized?: boolean;
}

/** The TLS option fields, to spread into a strict options schema. */
export const tlsSettingsShape = {
  caFile: z.string().min(1).optional(),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  keyPassword: z.string().optional(),
  keyPasswordFile: z.string().min(1).optional(),
  servername: z.string().min(1).optional(),
  rejectUnauthorized: z.boolean().optional(),
};

export const tlsSettingsSchema = z.strictObject(tlsSettingsShape).superRefine((s, ctx) => {
  if ((s.certFile === undefined) !== (s.keyFile === undefined)) {
    ctx.addIssue({ code: 'custom', path: [s.certFile === undefined ? 'certFile' : 'keyFile'], message: 'cert_file and key_file go together (a client certificate and its key)' });
  }
  if (s.keyPassword !== undefined && s.keyPasswordFile !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['keyPasswordFile'], message: 'key_password and key_password_file are both set: give the passphrase one way' });
  }
});

const TLS_KEYS = Object.keys(tlsSettingsShape) as Array<keyof TlsSettings>;

/** The TLS settings among a client's options (the fields of `tlsSettingsShape`). */
export function pickTlsSettings(options: Readonly<Partial<Record<keyof TlsSettings, unknown>>>): TlsSettings {
  // the fields' types are those of tlsSettingsShape, which every caller's schema spreads
  const out: TlsSettings = {};
  for (const k of TLS_KEYS) if (options[k] !== undefined) Object.assign(out, { [k]: options[k] });
  return out;
}

/** True when any TLS setting is given (a client may then need its own agent). */
export function hasTlsSettings(s: TlsSettings | undefined): boolean {
  return !!s && Object.values(s).some((v) => v !== undefined);
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN (?:[A-Z]+ )?(?:ENCRYPTED )?PRIVATE KEY-----/;

/**
 * Reads the files of `settings` into Node TLS options. `where` prefixes the YAML keys in errors
 * (`connections.schema_registry` → `connections.schema_registry.ca_file: cannot read …`).
 *
 * Checks what can be checked without a server: each file is readable PEM of the right kind, an
 * encrypted key opens with `key_password`, the certificate matches its key. Throws
 * SUP_ERR_CONFIG_INVALID naming the key and the path.
 */
export function readTlsFiles(settings: TlsSettings, where = ''): TlsOptions {
  const keyName = (k: string): string => (where ? `${where}.${k}` : k);
  const out: TlsOptions = {};
  if (settings.caFile !== undefined) {
    const ca = readPem(settings.caFile, keyName('ca_file'));
    if (!PEM_CERT.test(ca.toString('latin1'))) throw invalid(keyName('ca_file'), `${settings.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    out.ca = [ca];
  }
  if (settings.certFile !== undefined) {
    const cert = readPem(settings.certFile, keyName('cert_file'));
    if (!PEM_CERT.test(cert.toString('latin1'))) throw invalid(keyName('cert_file'), `${settings.certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    out.cert = cert;
  }
  if (settings.keyFile !== undefined) {
    const key = readPem(settings.keyFile, keyName('key_file'));
    if (!PEM_KEY.test(key.toString('latin1'))) throw invalid(keyName('key_file'), `${settings.keyFile} holds no PEM private key (-----BEGIN … PRIVATE KEY-----)`);
    out.key = key;
  }
  const passphrase = settings.keyPasswordFile !== undefined ? readSecretFile(settings.keyPasswordFile, keyName('key_password_file')) : settings.keyPassword;
  if (passphrase !== undefined) out.passphrase = passphrase;
  if (settings.servername !== undefined) out.servername = settings.servername;
  if (settings.rejectUnauthorized !== undefined) out.rejectUnauthorized = settings.rejectUnauthorized;
  if (out.ca || out.cert || out.key) {
    try {
      createSecureContext({ ...out, ...(out.ca ? { ca: out.ca } : {}) });
    } catch (err) {
      throw invalid(keyName(contextProblemKey(err)), contextProblem(err, settings));
    }
  }
  return out;
}

function readPem(file: string, key: string): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (err) {
    throw invalid(key, `cannot read ${file} (${fileProblem(err)})`);
  }
  if (content.length === 0) throw invalid(key, `${file} is empty`);
  return content;
}

function invalid(key: string, problem: string): SupervisorError {
  return new SupervisorError('SUP_ERR_CONFIG_INVALID', `${key}: ${problem}`, { where: key });
}

function errText(err: unknown): string {
  const e = err as { code?: string; message?: string; reason?: string } | null;
  return `${e?.code ?? ''} ${e?.reason ?? ''} ${e?.message ?? ''}`.toLowerCase();
}

function contextProblemKey(err: unknown): string {
  const t = errText(err);
  if (/bad decrypt|bad password|passphrase|decrypt|key values mismatch|key_values_mismatch|private key|bad_key|no start line.*key/.test(t)) return 'key_file';
  return 'ca_file';
}

function contextProblem(err: unknown, s: TlsSettings): string {
  const t = errText(err);
  if (/bad decrypt|bad password|passphrase|interrupted or cancelled/.test(t)) {
    return s.keyPassword !== undefined || s.keyPasswordFile !== undefined
      ? `${s.keyFile} cannot be decrypted with key_password (wrong passphrase?)`
      : `${s.keyFile} is encrypted: set key_password (or key_password_file)`;
  }
  if (/key values mismatch|key_values_mismatch/.test(t)) return `${s.keyFile} is not the key of ${s.certFile ?? 'the certificate'}`;
  const e = err as { code?: string; message?: string } | null;
  return `not usable for TLS: ${e?.message ?? String(err)}${e?.code ? ` (${e.code})` : ''}`;
}

// ---------------------------------------------------------------------------------------
// Handshake failures

/** Codes Node (OpenSSL) gives a certificate it cannot verify against the trusted CAs. */
const UNTRUSTED: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_CHAIN_TOO_LONG: 'certificate chain too long',
};

/** The same problems as Node words them, for errors that lost their code on the way (a client library rewrapping). */
const UNTRUSTED_TEXT: ReadonlyArray<[RegExp, string]> = [
  [/unable to verify the first certificate/i, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  [/unable to get local issuer certificate/i, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/unable to get issuer certificate/i, 'UNABLE_TO_GET_ISSUER_CERT'],
  [/self[- ]signed certificate in certificate chain/i, 'SELF_SIGNED_CERT_IN_CHAIN'],
  [/^self[- ]signed certificate$|: self[- ]signed certificate$/i, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/certificate has expired/i, 'CERT_HAS_EXPIRED'],
  [/certificate is not yet valid/i, 'CERT_NOT_YET_VALID'],
  [/Hostname\/IP does not match certificate's altnames/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
  [/disconnected before secure TLS connection was established/i, 'HANDSHAKE_RESET'],
  [/wrong version number|packet length too long|http request/i, 'ERR_SSL_WRONG_VERSION_NUMBER'],
  [/alert (?:bad certificate|certificate required|unknown ca|handshake failure|certificate unknown)/i, 'ERR_SSL_ALERT'],
];

interface TlsErrorLike {
  code?: string;
  message?: string;
  host?: string;
  cert?: { subjectaltname?: string; subject?: { CN?: string }; valid_to?: string; valid_from?: string };
  cause?: unknown;
  reason?: string;
}

/** The error (or one of its causes) that carries a TLS problem, with its code. */
function findTlsError(err: unknown): { e: TlsErrorLike; code: string } | null {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as TlsErrorLike;
    // errors of other libraries carry numeric or other codes (kafkajs: the protocol's error code)
    const code = typeof e.code === 'string' ? e.code : '';
    if (
      code in UNTRUSTED ||
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'].includes(code) ||
      code.startsWith('ERR_SSL_')
    ) {
      return { e, code };
    }
    const message = typeof e.message === 'string' ? e.message : '';
    for (const [re, c] of UNTRUSTED_TEXT) if (re.test(message)) return { e, code: c };
    const errors = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(errors)) {
      for (const inner of errors) {
        const found = findTlsError(inner);
        if (found) return found;
      }
    }
    current = e.cause;
  }
  return null;
}

/** `IP Address:127.0.0.1, DNS:localhost` → `127.0.0.1, localhost`. */
function altNames(e: TlsErrorLike): string | null {
  const san = e.cert?.subjectaltname;
  if (san)
    return san
      .split(/,\s*/)
      .map((n) => n.replace(/^(?:DNS|IP Address|IP|URI|email):/i, ''))
      .join(', ');
  const listed = /cert's list: (.+)$/.exec(e.message ?? '')?.[1] ?? /not in the cert's altnames: (.+)$/.exec(e.message ?? '')?.[1];
  if (listed)
    return listed
      .split(/,\s*/)
      .map((n) => n.replace(/^(?:DNS|IP Address|IP|URI|email):/i, ''))
      .join(', ');
  return e.cert?.subject?.CN ?? null;
}

/** The name the client asked for, from the altname error (`Host: x. is not in…`, `IP: x is not in…`). */
function requestedName(e: TlsErrorLike): string | null {
  if (e.host) return e.host;
  return /(?:Host|IP): ([^\s]+?)\.? is not/.exec(e.message ?? '')?.[1] ?? null;
}

/**
 * One sentence for a TLS failure talking to `host` (`host:port` as connected to), or null when
 * `err` (and its causes) is not a TLS problem. Examples:
 *
 * - `TLS: the certificate of 127.0.0.1:8443 is not trusted (unable to verify the first certificate): set ca_file to the CA that signed it`
 * - `TLS: the certificate of 127.0.0.1:8443 is for 127.0.0.1, localhost, not wrong.example`
 * - `TLS: the certificate of 127.0.0.1:8443 has expired (valid until Jan  1 00:00:00 2026 GMT)`
 * - `TLS: 127.0.0.1:9096 refused the handshake (alert certificate required): it may want a client certificate (cert_file, key_file)`
 */
export function describeTlsError(err: unknown, host: string): string | null {
  const found = findTlsError(err);
  if (!found) return null;
  const { e, code } = found;
  const detail = (fallback: string): string => {
    if (e.reason) return e.reason;
    const m = (e.message ?? '').trim();
    return m && !/^[A-Z_]+$/.test(m) ? m.replace(/^.*?-\s*Error, status \d+:\s*/, '') : fallback;
  };
  if (code in UNTRUSTED) {
    return `TLS: the certificate of ${host} is not trusted (${UNTRUSTED[code]}): set ca_file to the CA that signed it`;
  }
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `TLS: the certificate of ${host} is self-signed and not trusted: set ca_file to that certificate (or the CA that should sign it)`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      const names = altNames(e);
      const asked = requestedName(e);
      return `TLS: the certificate of ${host} is for ${names ?? 'other names'}, not ${asked ?? host.replace(/:\d+$/, '')}`;
    }
    case 'CERT_HAS_EXPIRED':
      return `TLS: the certificate of ${host} has expired${e.cert?.valid_to ? ` (valid until ${e.cert.valid_to})` : ''}`;
    case 'CERT_NOT_YET_VALID':
      return `TLS: the certificate of ${host} is not valid yet${e.cert?.valid_from ? ` (valid from ${e.cert.valid_from})` : ''}: check the clocks`;
    case 'HANDSHAKE_RESET':
      return `TLS: ${host} closed the connection during the TLS handshake: it may want a client certificate (cert_file, key_file), or it does not speak TLS on this port`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
    case 'ERR_SSL_HTTP_REQUEST':
      return `TLS: ${host} does not answer TLS (${detail(code)}): is it a plain-text port? Use http:// or the TLS port`;
    default: {
      const reason = detail(code)
        .replace(/^[0-9A-F:]+:error:[0-9A-F]+:SSL routines:[^:]*:/i, '')
        .replace(/^.*SSL routines:[^:]*:/i, '');
      if (/certificate required|bad certificate|certificate unknown|unknown ca|handshake failure/i.test(reason) || /CERTIFICATE|HANDSHAKE/i.test(code)) {
        return `TLS: ${host} refused the handshake (${reason}): it may want a (different) client certificate (cert_file, key_file)`;
      }
      return `TLS: the handshake with ${host} failed (${reason})`;
    }
  }
}

/** `host:port` of a URL, with the scheme's default port when none is written. */
export function hostPortOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return url;
  }
}

/**
 * Domain normalisation for the reference ingestion service: turns one raw feed entry (a bare
 * domain, a host from a hosts file, a URL, possibly defanged) into a canonical ASCII host name,
 * or says why it is not one. Pure: no I/O, no clock.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

export type InvalidReason = 'empty' | 'bad_url' | 'ip_address' | 'bad_idna' | 'too_long' | 'bad_label' | 'single_label' | 'numeric_tld';

export type NormalizeResult = { ok: true; domain: string } | { ok: false; reason: InvalidReason; input: string };

const MAX_NAME = 253;
const MAX_LABEL = 63;
/** RFC 1035 / 1123 label: letters, digits, hyphen; no leading or trailing hyphen. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Undo the usual defanging of threat-intel feeds: hxxp://, [.], (.), {.}, [:]. */
export function refang(s: string): string {
  return s
    .replace(/^hxxp(s?):\/\//i, 'http$1://')
    .replace(/^fxp:\/\//i, 'ftp://')
    .replace(/\[\.\]|\(\.\)|\{\.\}|\[dot\]/gi, '.')
    .replace(/\[:\]/g, ':');
}

/** The host part of an entry: a URL's hostname, or a bare `host[:port][/path]`. */
function extractHost(entry: string): string | undefined {
  if (SCHEME.test(entry)) {
    try {
      return new URL(entry).hostname;
    } catch {
      return undefined;
    }
  }
  // Bare host, maybe with user info, port, path, query or fragment: cut at the first / ? #.
  let host = entry.split(/[/?#]/, 1)[0] ?? '';
  const at = host.lastIndexOf('@');
  if (at >= 0) host = host.slice(at + 1);
  if (host.startsWith('[')) return host.replace(/\]:\d*$/, ']'); // [v6]:port
  const colon = host.indexOf(':');
  if (colon >= 0 && host.indexOf(':', colon + 1) < 0) {
    // host:port (a single colon); several colons mean a bare IPv6 address, kept for the IP check
    const port = host.slice(colon + 1);
    if (!/^\d*$/.test(port)) return undefined;
    host = host.slice(0, colon);
  }
  return host;
}

/**
 * Normalise one entry: trim, refang, URL → host, strip user info, port and trailing dots,
 * lowercase, a leading `*.` wildcard removed, IDNA → punycode (UTS #46 via `domainToASCII`),
 * then validate: not an IP address, ≤ 253 characters, at least two labels of 1–63
 * characters from [a-z0-9-] not starting or ending with a hyphen, TLD not all-numeric.
 */
export function normalizeDomain(raw: string): NormalizeResult {
  const input = raw.trim();
  if (input === '') return { ok: false, reason: 'empty', input: raw };
  const host = extractHost(refang(input));
  if (host === undefined) return { ok: false, reason: 'bad_url', input: raw };
  let name = host.trim().toLowerCase().replace(/\.+$/, '');
  if (name.startsWith('*.')) name = name.slice(2);
  if (name === '') return { ok: false, reason: 'empty', input: raw };
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (isIP(bare) !== 0) return { ok: false, reason: 'ip_address', input: raw };
  // Non-ASCII or an xn-- label: go through IDNA (which also validates existing punycode).
  let ascii = name;
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(name) || /(^|\.)xn--/.test(name)) {
    ascii = domainToASCII(name);
    if (ascii === '') return { ok: false, reason: 'bad_idna', input: raw };
  }
  if (ascii.length > MAX_NAME) return { ok: false, reason: 'too_long', input: raw };
  const labels = ascii.split('.');
  if (labels.length < 2) return { ok: false, reason: 'single_label', input: raw };
  for (const label of labels) {
    if (label.length === 0 || label.length > MAX_LABEL || !LABEL.test(label)) {
      return { ok: false, reason: 'bad_label', input: raw };
    }
  }
  const tld = labels[labels.length - 1] ?? '';
  if (/^\d+$/.test(tld)) {
    // dotted numbers that isIP did not catch (e.g. 1.2.3.4.5, 010.1) are not host names either
    return { ok: false, reason: 'numeric_tld', input: raw };
  }
  return { ok: true, domain: ascii };
}

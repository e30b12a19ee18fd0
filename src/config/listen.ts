/**
 * A listen address as `supervisor worker --listen` and `executor.worker_listen` take it:
 * `HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT` (then on the loopback interface, 127.0.0.1).
 * Port 0 asks for any free port (the address is logged once listening).
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export interface ListenAddress {
  host: string;
  port: number;
}

/** The host of a bare port: loopback, never every interface unless asked for. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The address, or why the text is not one (a sentence naming what is wrong, never echoing more than 100 characters). */
export function parseListenAddress(text: string): ListenAddress | { problem: string } {
  const value = text.trim();
  const shown = JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
  const hint = 'give HOST:PORT (e.g. 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464) or a PORT for 127.0.0.1';
  let host: string;
  let portText: string;
  if (/^\d+$/.test(value)) {
    host = DEFAULT_LISTEN_HOST;
    portText = value;
  } else {
    const m = /^\[([^\]]*)\]:(.*)$/.exec(value) ?? /^([^:[\]]*):([^:]*)$/.exec(value);
    if (!m) return { problem: `${shown} is not a listen address; ${hint}` };
    host = m[1]!;
    portText = m[2]!;
    const bracketed = value.startsWith('[');
    if (host === '') return { problem: `${shown} names no host; ${hint}` };
    if (bracketed ? isIP(host) !== 6 : isIP(host) === 0 && !HOSTNAME.test(host)) return { problem: `${shown}: ${JSON.stringify(host)} is not a host name or IP address; ${hint}` };
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535))
    return { problem: `${shown}: ${JSON.stringify(portText)} is not a port; give an integer from 0 to 65535 (0 = any free port)` };
  return { host, port };
}

/** The config's form: a string checked with parseListenAddress, kept as written. */
export const listenAddressSchema = z.string().superRefine((value, ctx) => {
  const parsed = parseListenAddress(value);
  if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
});

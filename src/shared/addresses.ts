import net from 'node:net';

/** Names `proxy-addr` (fastify's `trustProxy`) accepts for well-known ranges. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * True for what `server.trust_proxy` may list: an IP address, a CIDR (`10.0.0.0/8`,
 * `fd00::/8`) or one of the names loopback, linklocal, uniquelocal.
 */
export function isProxyAddress(text: string): boolean {
  if (RANGE_NAMES.has(text)) return true;
  const [address = '', prefix, extra] = text.split('/');
  if (extra !== undefined) return false;
  const family = net.isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

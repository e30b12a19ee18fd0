/**
 * Web UI sessions, kept in memory (a restart signs everyone out; nothing about a session is
 * ever written to the store). Sign-in exchanges an API token for a session: the browser gets
 * an opaque id in an HttpOnly, SameSite=Strict cookie and a CSRF token it must echo in the
 * `x-csrf-token` header of every write. Sessions expire `ttlMs` after sign-in (absolute, not
 * sliding), and at most `max` are kept (the least recently used is forgotten first).
 */
import crypto from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Principal } from '../auth';

export const SESSION_COOKIE = 'sup_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Session {
  id: string;
  csrf: string;
  principal: Principal;
  createdAt: number;
  expiresAt: number;
}

export interface SessionStoreParams {
  ttlMs?: number;
  max?: number;
  now?: () => number;
}

export interface SessionStore {
  create(principal: Principal): Session;
  /** The live session for this id, or null (unknown, expired, signed out). */
  get(id: string): Session | null;
  delete(id: string): void;
  size(): number;
  readonly ttlMs: number;
}

const DEFAULT_TTL_MS = 12 * 3_600_000;

export function createSessionStore(params: SessionStoreParams = {}): SessionStore {
  const ttlMs = params.ttlMs ?? DEFAULT_TTL_MS;
  const now = params.now ?? Date.now;
  // keyed by the SHA-256 of the id: a timing difference in the map lookup reveals nothing of a live id
  const sessions = new LRUCache<string, Session>({ max: params.max ?? 10_000 });
  const key = (id: string) => crypto.createHash('sha256').update(id).digest('base64url');
  return {
    ttlMs,
    create(principal) {
      const at = now();
      const session: Session = {
        id: crypto.randomBytes(32).toString('base64url'),
        csrf: crypto.randomBytes(24).toString('base64url'),
        principal: { name: principal.name, readOnly: principal.readOnly, ...(principal.tokenId !== undefined ? { tokenId: principal.tokenId } : {}) },
        createdAt: at,
        expiresAt: at + ttlMs,
      };
      sessions.set(key(session.id), session);
      return session;
    },
    get(id) {
      if (!id || id.length > 100) return null;
      const k = key(id);
      const s = sessions.get(k);
      if (!s) return null;
      if (s.expiresAt <= now()) {
        sessions.delete(k);
        return null;
      }
      return s;
    },
    delete(id) {
      sessions.delete(key(id));
    },
    size: () => sessions.size,
  };
}

/** One cookie's value from a Cookie header (no decoding: the session id is base64url). */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** Whether two secrets are equal, in constant time. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

import crypto from 'node:crypto';
import type { SqliteDatabase } from './database';

/**
 * API tokens. The token is shown once at creation; only its SHA-256 is stored. Tokens are
 * 32 random bytes, so a fast hash is enough (no password-style stretching needed).
 */
export interface TokenInfo {
  id: string;
  name: string;
  readOnly: boolean;
  createdAt: number;
  lastUsedAt: number | null;
}

const PREFIX = 'sup_';

export function hashToken(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

export function createTokenStore(db: SqliteDatabase) {
  const insert = db.prepare('INSERT INTO api_tokens(id, name, hash, read_only, created_at) VALUES (?, ?, ?, ?, ?)');
  const all = db.prepare<[], { id: string; name: string; hash: string; read_only: number; created_at: number; last_used_at: number | null }>(
    'SELECT * FROM api_tokens ORDER BY created_at',
  );
  const touch = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
  const byId = db.prepare<[string], { id: string }>('SELECT id FROM api_tokens WHERE id = ?');
  const remove = db.prepare('DELETE FROM api_tokens WHERE name = ?');
  const info = (r: { id: string; name: string; read_only: number; created_at: number; last_used_at: number | null }): TokenInfo => ({
    id: r.id,
    name: r.name,
    readOnly: r.read_only === 1,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  });
  return {
    /** Creates a token and returns it in clear text: the only time it exists outside the caller. */
    create(name: string, readOnly: boolean, now = Date.now()): { token: string; info: TokenInfo } {
      const id = crypto.randomUUID();
      const token = PREFIX + crypto.randomBytes(32).toString('base64url');
      insert.run(id, name, hashToken(token).toString('hex'), readOnly ? 1 : 0, now);
      return { token, info: { id, name, readOnly, createdAt: now, lastUsedAt: null } };
    },
    /** Constant-time comparison against every stored hash (no early exit on a match). */
    verify(token: string, now = Date.now()): TokenInfo | null {
      const candidate = hashToken(token);
      let found: TokenInfo | null = null;
      for (const r of all.all()) {
        const stored = Buffer.from(r.hash, 'hex');
        if (stored.length === candidate.length && crypto.timingSafeEqual(stored, candidate) && found === null) found = info(r);
      }
      if (found) touch.run(now, found.id);
      return found;
    },
    list(): TokenInfo[] {
      return all.all().map(info);
    },
    revoke(name: string): boolean {
      return remove.run(name).changes > 0;
    },
    /** Whether the token with this id still exists (a UI session ends when its token is revoked). */
    isActive(id: string): boolean {
      return byId.get(id) !== undefined;
    },
  };
}

export type TokenStore = ReturnType<typeof createTokenStore>;

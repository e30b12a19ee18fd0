/**
 * The PostgreSQL facade's held-back statements against the stack's server: inside a transaction
 * the BEGIN, SETs, savepoints and `runLater` writes go with the next call that needs an answer
 * (one request, pipelined by the worker), the COMMIT carries the trailing writes, a failing
 * held-back write or a refused `runChecked` fails the whole transaction (nothing commits, the
 * refusal's own error), and a COMMIT the server answers with ROLLBACK is a failure. A checked
 * write refuses in the server, so it goes in the same request as the COMMIT; a `getLater` read
 * goes with the COMMIT too and is answered after it.
 */
import { isSupervisorError, SupervisorError } from '../../../src/protocol';
import { createLeaseStore } from '../../../src/store/leader';
import { POSTGRES_MIGRATIONS } from '../../../src/store/migrations-postgres';
import { getLater, PostgresDatabase, runChecked, runLater } from '../../../src/store/postgres/database';
import { openPostgresStore } from '../../../src/store/postgres/open';
import { createFreshPostgres, type FreshPostgres } from '../../helpers/postgres-store';
import { ensureServices, STACK_TIMEOUT_MS } from '../../helpers/stack';

jest.setTimeout(60_000);

describe('PostgreSQL facade: held-back statements', () => {
  let fresh: FreshPostgres;
  let db: PostgresDatabase;

  beforeAll(async () => {
    await ensureServices(['postgres']);
    fresh = await createFreshPostgres('batching');
    db = openPostgresStore(fresh.settings, POSTGRES_MIGRATIONS);
    db.exec('CREATE TABLE batch_t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  }, STACK_TIMEOUT_MS);

  afterAll(async () => {
    db?.close();
    await fresh?.drop();
  });

  const count = (k: string): number => db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM batch_t WHERE k = ?').get(k)!.n;
  const insert = () => db.prepare<[string, number]>('INSERT INTO batch_t (k, v) VALUES (?, ?)');

  it('sends a transaction of held-back writes as one request with its COMMIT, and the writes are committed', () => {
    const ins = insert();
    const before = db.requestCount;
    db.transaction(() => {
      db.prepare('SET LOCAL idle_in_transaction_session_timeout = 5000').run();
      runLater(ins, 'a1', 1);
      runLater(ins, 'a2', 2);
      db.transaction(() => runLater(ins, 'a3', 3))();
    })();
    expect(db.requestCount - before).toBe(1);
    expect([count('a1'), count('a2'), count('a3')]).toEqual([1, 1, 1]);
  });

  it('lets a read in the transaction see the held-back writes before it (same request, in order)', () => {
    const ins = insert();
    const seen = db.transaction(() => {
      runLater(ins, 'b1', 10);
      return db.prepare<[string], { v: number }>('SELECT v FROM batch_t WHERE k = ?').get('b1')?.v;
    })();
    expect(seen).toBe(10);
  });

  it('fails the whole transaction when a held-back write fails, committing none of it', () => {
    const ins = insert();
    runLater(ins, 'c0', 0); // outside a transaction: at once
    expect(() =>
      db.transaction(() => {
        runLater(ins, 'c1', 1);
        runLater(ins, 'c0', 2); // duplicate key
        runLater(ins, 'c2', 3);
      })(),
    ).toThrow(/duplicate key/);
    expect(db.inTransaction).toBe(false);
    expect([count('c0'), count('c1'), count('c2')]).toEqual([1, 0, 0]);
  });

  it('keeps a held-back failure fatal for the transaction even when a savepoint catches it', () => {
    const ins = insert();
    runLater(ins, 'd0', 0);
    expect(() =>
      db.transaction(() => {
        runLater(ins, 'd0', 1); // fails with the next call
        try {
          db.transaction(() => db.prepare('SELECT 1').get())();
        } catch {
          /* caught inside: the transaction still must not commit */
        }
        runLater(ins, 'd1', 1);
      })(),
    ).toThrow(/earlier statement of this transaction failed|duplicate key/);
    expect(count('d1')).toBe(0);
  });

  it('fails a COMMIT the server answers with ROLLBACK (a failed statement caught inside the transaction)', () => {
    const ins = insert();
    ins.run('e0', 0);
    expect(() =>
      db.transaction(() => {
        ins.run('e1', 1);
        try {
          ins.run('e0', 1); // duplicate, answered at once: the transaction is aborted on the server
        } catch {
          /* caught without a savepoint */
        }
      })(),
    ).toThrow(/rolled back by the server/);
    expect(count('e1')).toBe(0);
  });

  it('rolls back to a savepoint whose SAVEPOINT was never sent without a round trip, and commits the rest', () => {
    const ins = insert();
    db.transaction(() => {
      runLater(ins, 'f1', 1);
      try {
        db.transaction(() => {
          runLater(ins, 'f2', 2);
          throw new Error('changed my mind');
        })();
      } catch {
        /* the savepoint's writes are dropped */
      }
    })();
    expect([count('f1'), count('f2')]).toEqual([1, 0]);
  });

  it('fails a transaction whose checked write does not match with the check’s own error, committing nothing', () => {
    const ins = insert();
    const check = db.prepare<[string]>('UPDATE batch_t SET v = v WHERE k = ?');
    ins.run('g0', 0);
    let answered: boolean | undefined;
    const err = (() => {
      try {
        db.transaction(() => {
          answered = runChecked(check, 1, () => new SupervisorError('SUP_ERR_NOT_LEADER', 'refused: no such row'), 'nobody');
          runLater(ins, 'g1', 1);
        })();
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(answered).toBe(true); // held back: the answer came with the COMMIT
    expect(isSupervisorError(err) && err.code).toBe('SUP_ERR_NOT_LEADER');
    expect(count('g1')).toBe(0);
    // a matching check commits
    db.transaction(() => {
      runChecked(check, 1, () => new Error('not expected'), 'g0');
      runLater(ins, 'g2', 2);
    })();
    expect(count('g2')).toBe(1);
  });

  it('sends a checked write with its COMMIT (one request): a match commits, a refusal aborts the transaction in the server', () => {
    const ins = insert();
    const check = db.prepare<[string]>('UPDATE batch_t SET v = v WHERE k = ?');
    ins.run('j0', 0);
    let before = db.requestCount;
    db.transaction(() => {
      runChecked(check, 1, () => new Error('not expected'), 'j0');
      runLater(ins, 'j1', 1);
    })();
    expect(db.requestCount - before).toBe(1);
    expect(count('j1')).toBe(1);
    // refused: the write after it, in the same request, commits nothing; the refusal's own error
    before = db.requestCount;
    let code: string | undefined;
    try {
      db.transaction(() => {
        runChecked(check, 1, () => new SupervisorError('SUP_ERR_NOT_LEADER', 'refused'), 'nobody');
        runLater(ins, 'j2', 2);
      })();
    } catch (e) {
      code = isSupervisorError(e) ? e.code : String(e);
    }
    expect(code).toBe('SUP_ERR_NOT_LEADER');
    // the COMMIT's request, then the ROLLBACK
    expect(db.requestCount - before).toBe(2);
    expect(count('j2')).toBe(0);
    // a check of more than one row
    ins.run('j3', 3);
    const checkTwo = db.prepare<[string, string]>('UPDATE batch_t SET v = v WHERE k IN (?, ?)');
    db.transaction(() => {
      runChecked(checkTwo, 2, () => new Error('not expected'), 'j0', 'j3');
      runLater(ins, 'j4', 4);
    })();
    expect(count('j4')).toBe(1);
  });

  it('answers a getLater read after the COMMIT it went with, in one request; read inside the transaction it is sent at once', () => {
    const ins = db.prepare<[string, number], { k: string; v: number }>('INSERT INTO batch_t (k, v) VALUES (?, ?) RETURNING k, v');
    let before = db.requestCount;
    const answer = db.transaction(() => {
      runLater(insert(), 'k1', 1);
      return getLater(ins, 'k2', 2);
    })();
    expect(db.requestCount - before).toBe(1);
    expect(answer()).toEqual({ k: 'k2', v: 2 });
    expect([count('k1'), count('k2')]).toEqual([1, 1]);
    // read before the COMMIT: what is held back goes at once, then the COMMIT
    before = db.requestCount;
    db.transaction(() => {
      const early = getLater(ins, 'k3', 3);
      expect(early()).toEqual({ k: 'k3', v: 3 });
      expect(db.requestCount - before).toBe(1);
    })();
    expect(db.requestCount - before).toBe(2);
    expect(count('k3')).toBe(1);
    // its transaction failed (a duplicate key in the same request): no answer, nothing committed
    let lost: (() => unknown) | undefined;
    expect(() =>
      db.transaction(() => {
        runLater(insert(), 'k4', 4);
        lost = getLater(ins, 'k1', 5);
      })(),
    ).toThrow(/duplicate key/);
    expect(() => lost!()).toThrow(/not answered/);
    expect(count('k4')).toBe(0);
    // outside a transaction it runs at once
    before = db.requestCount;
    const now = getLater(ins, 'k5', 5);
    expect(db.requestCount - before).toBe(1);
    expect(now()).toEqual({ k: 'k5', v: 5 });
  });

  it('prepares a statement with parameters on the server when it comes again, and gets past a schema change under a prepared SELECT *', () => {
    db.exec('CREATE TABLE prep_t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    db.prepare<[string, number]>('INSERT INTO prep_t (k, v) VALUES (?, ?)').run('p1', 1);
    const sel = db.prepare<[string], Record<string, unknown>>('SELECT * FROM prep_t WHERE k = ?');
    const named = db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM pg_prepared_statements WHERE statement LIKE 'SELECT * FROM prep_t%' AND statement LIKE ?");
    expect(sel.get('p1')).toEqual({ k: 'p1', v: 1 }); // first sight: unnamed
    expect(named.get('%')!.n).toBe(0);
    expect(sel.get('p1')).toEqual({ k: 'p1', v: 1 }); // again: prepared in this session
    expect(named.get('%')!.n).toBe(1);
    expect(sel.get('p1')).toEqual({ k: 'p1', v: 1 });
    // a column added under the prepared SELECT *: the call is sent again unnamed, then prepared anew
    db.exec('ALTER TABLE prep_t ADD COLUMN w INTEGER');
    expect(sel.get('p1')).toEqual({ k: 'p1', v: 1, w: null });
    expect(sel.get('p1')).toEqual({ k: 'p1', v: 1, w: null });
    expect(sel.get('p1')).toEqual({ k: 'p1', v: 1, w: null });
  });

  it('refuses a fenced write of a term that ended: the lease fence fails the transaction with SUP_ERR_NOT_LEADER', () => {
    const lease = createLeaseStore({ db, name: 'batching', now: Date.now });
    const term = lease.elect('holder-a', 10_000);
    if (!term.held) throw new Error('expected to hold a fresh lease');
    const ins = insert();
    db.transaction(() => {
      expect(lease.fence('holder-a', term.epoch)).toBe(true);
      runLater(ins, 'h1', 1);
    })();
    expect(count('h1')).toBe(1);
    let code: string | undefined;
    try {
      db.transaction(() => {
        lease.fence('holder-a', term.epoch + 1); // a term that is not ours
        runLater(ins, 'h2', 2);
      })();
    } catch (e) {
      code = isSupervisorError(e) ? e.code : String(e);
    }
    expect(code).toBe('SUP_ERR_NOT_LEADER');
    expect(count('h2')).toBe(0);
    // outside a transaction the fence answers at once
    expect(lease.fence('holder-a', term.epoch + 1)).toBe(false);
  });
});

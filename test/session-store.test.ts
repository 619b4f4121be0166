/**
 * The session store never brings an ended session back: a request that loaded a signed-in session
 * before it was revoked must not re-insert it when express-session saves at the end of that
 * request. New sessions (sign-in regenerates the id) are still inserted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type session from 'express-session';
import { sessionKey } from '../server/session/key.js';
import { createSessionStore } from '../server/session/middleware.js';
import { takeCeremony } from '../server/session/sql.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

const call = <T>(fn: (cb: (err: unknown, value?: T) => void) => void) =>
  new Promise<T | undefined>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

describe('session store', () => {
  let database: TestDatabase;
  let store: session.Store;
  before(async () => {
    database = await createTestDatabase();
    store = createSessionStore(database.db);
  });
  after(() => database.drop());

  const signedIn = (sid: string): session.SessionData => ({
    cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000), httpOnly: true, path: '/' },
    auth: { userId: '1', username: 'alice', credentialId: `cred-${sid}`, signedInAt: Date.now(), lastSeenAt: Date.now() },
  });

  /** Rows are stored under the session's key, never its id. */
  const rows = async (sid: string) => (await database.db.query('SELECT sess FROM session WHERE sid = $1', [sessionKey(sid)])).rows;

  test('a signed-in session ended while a request held it is not re-inserted by that request', async () => {
    await call((cb) => store.set('held', signedIn('held'), cb));
    const loaded = await call<session.SessionData | null>((cb) => store.get('held', cb));
    assert.ok(loaded?.auth, 'loaded the signed-in session');

    // Revoked meanwhile (what revoke, disable and sign-out elsewhere do).
    await database.db.query('DELETE FROM session WHERE sid = $1', [sessionKey('held')]);

    // The in-flight request changed it (e.g. its last-seen touch) and express-session saves it.
    loaded.auth.lastSeenAt = Date.now();
    await call((cb) => store.set('held', loaded, cb));
    assert.deepEqual(await rows('held'), [], 'the ended session stays ended');
  });

  test('a loaded signed-in session that still exists is updated, without the loader mark', async () => {
    await call((cb) => store.set('live', signedIn('live'), cb));
    const loaded = await call<session.SessionData | null>((cb) => store.get('live', cb));
    loaded!.auth!.lastSeenAt = 42;
    await call((cb) => store.set('live', loaded!, cb));
    const [row] = await rows('live');
    assert.equal(row.sess.auth.lastSeenAt, 42);
    assert.equal(
      Object.keys(row.sess).some((k) => k.startsWith('_')),
      false,
      'no internal mark is stored',
    );
  });

  test("a request's save does not bring back a ceremony another request took meanwhile; a ceremony the request itself started is written", async () => {
    const ceremony = (challenge: string) => ({ purpose: 'step-up' as const, challenge, expiresAt: Date.now() + 60_000 });
    await call((cb) => store.set('cer', { ...signedIn('cer'), ceremony: ceremony('first') }, cb));
    // Request B loads the session, ceremony and all, into req.session as express-session does
    // (it copies the loaded object's own enumerable properties); request A then takes the ceremony (a verify).
    const inflate = async () => store.createSession({ sessionID: 'cer' } as never, (await call<session.SessionData | null>((cb) => store.get('cer', cb)))!);
    const b = await inflate();
    assert.equal(b?.ceremony?.challenge, 'first');
    assert.equal((await takeCeremony<{ challenge: string }>(database.db, sessionKey('cer')))?.challenge, 'first');
    // B's save at its end (last seen moved on): the ceremony stays taken.
    b.auth!.lastSeenAt += 60_000;
    await call((cb) => store.set('cer', b, cb));
    const [afterB] = await rows('cer');
    assert.equal(afterB.sess.ceremony, undefined, 'the ceremony A took is not written back');
    assert.equal(afterB.sess.auth.lastSeenAt, b.auth!.lastSeenAt, "B's own change is written");

    // A request that starts a ceremony of its own writes it.
    const c = await inflate();
    c.ceremony = ceremony('second');
    await call((cb) => store.set('cer', c, cb));
    assert.equal((await rows('cer'))[0].sess.ceremony.challenge, 'second');
  });

  test('a new session (sign-in regenerates the id) is inserted', async () => {
    await call((cb) => store.set('fresh', signedIn('fresh'), cb));
    assert.equal((await rows('fresh')).length, 1);
  });
});

-- Why each signed-in session ended (an admin revoked its key, the person removed the key, the
-- account was disabled, an admin or the person ended it, it timed out, the person signed out),
-- so that the next page that browser opens can say so instead of a bare sign-in page. Keyed like
-- session.sid (the SHA-256 of the session id): only the browser still holding the cookie can ask,
-- and the row says nothing about anyone else. Kept while that cookie can still come back (its
-- lifetime is SESSION_ABSOLUTE); the session store's pruning removes older rows.
CREATE TABLE session_ends (
  sid varchar PRIMARY KEY,
  reason text NOT NULL,
  ended_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_ends_ended_at ON session_ends (ended_at);

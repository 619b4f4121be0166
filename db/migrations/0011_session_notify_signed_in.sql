-- A deleted session row is announced (NOTIFY keygate_session, see 0002) only if it was signed in.
-- Instances cache only what a row says about its sign-in (server/session/cache.ts): a row without
-- one is cached, if at all, as "not signed in", which its deletion leaves true. So the deletions
-- of ceremony-only rows (one per sign-in, as the new session replaces the ceremony's; every expired
-- ceremony at each pruning) no longer wake every instance. A row that lost its sign-in by an
-- UPDATE was announced by that UPDATE.
CREATE OR REPLACE FUNCTION session_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF COALESCE(jsonb_typeof(OLD.sess -> 'auth'), 'null') <> 'null' THEN
      PERFORM pg_notify('keygate_session', OLD.sid);
    END IF;
    RETURN OLD;
  END IF;
  IF (OLD.sess -> 'auth') - 'lastSeenAt' IS DISTINCT FROM (NEW.sess -> 'auth') - 'lastSeenAt' THEN
    PERFORM pg_notify('keygate_session', NEW.sid);
  END IF;
  RETURN NEW;
END;
$$;

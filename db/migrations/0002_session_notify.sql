-- Every Keygate instance caches signed-in sessions for the proxy. PostgreSQL stays the source of
-- truth: when a session row is deleted (sign-out, revocation, disable, expiry) or its sign-in
-- changes, every instance is told at commit through NOTIFY and forgets that session at once.
-- Only lastSeenAt changes (the throttled idle-timeout touch) notify nobody.
CREATE FUNCTION session_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('keygate_session', OLD.sid);
    RETURN OLD;
  END IF;
  IF (OLD.sess -> 'auth') - 'lastSeenAt' IS DISTINCT FROM (NEW.sess -> 'auth') - 'lastSeenAt' THEN
    PERFORM pg_notify('keygate_session', NEW.sid);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER session_change_notify AFTER UPDATE OR DELETE ON session
  FOR EACH ROW EXECUTE FUNCTION session_notify_change();

-- Sessions are stored under the SHA-256 of their id (server/session/key.ts), never the id: read
-- access to this database must not be enough to ride a session. Sessions that exist when this runs
-- keep working: their rows are re-keyed in place (lower-case hex, as sessionKey writes it). An
-- instance still running the previous version no longer finds them: stop every instance, then start
-- the new version (README, "Upgrading").
UPDATE session SET sid = encode(sha256(convert_to(sid, 'UTF8')), 'hex');

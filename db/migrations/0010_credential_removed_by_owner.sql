-- Whether an ended key was removed by its owner (the account page) rather than revoked by an
-- administrator (admin page, CLI): the admin pages say which ("1 removed by their owner" is not
-- "1 revoked"). Keys ended before this column existed take it from their first ending in the
-- audit log.
ALTER TABLE credentials ADD COLUMN removed_by_owner boolean NOT NULL DEFAULT false;

UPDATE credentials c
   SET removed_by_owner = true
 WHERE c.revoked_at IS NOT NULL
   AND (SELECT a.event FROM audit_events a
         WHERE a.credential_id = c.id AND a.outcome = 'success' AND a.event IN ('credential_removed', 'credential_revoked')
         ORDER BY a.at, a.id LIMIT 1) = 'credential_removed';

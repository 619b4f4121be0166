-- Whether an ended key was removed by its owner (the account page) rather than revoked by an
-- administrator (admin page, CLI): the admin pages say which ("1 removed by their owner" is not
-- "1 revoked"). Keys ended before this column existed take it from their first ending in the
-- audit log (one pass over it: audit_events.credential_id has no index).
ALTER TABLE credentials ADD COLUMN removed_by_owner boolean NOT NULL DEFAULT false;

UPDATE credentials c
   SET removed_by_owner = true
  FROM (SELECT DISTINCT ON (credential_id) credential_id, event
          FROM audit_events
         WHERE outcome = 'success' AND event IN ('credential_removed', 'credential_revoked') AND credential_id IS NOT NULL
         ORDER BY credential_id, at, id) first_end
 WHERE first_end.credential_id = c.id AND first_end.event = 'credential_removed' AND c.revoked_at IS NOT NULL;

-- Key names are shown on pages and printed by the CLI. Names stored before Keygate removed control
-- and bidirectional-formatting characters from them (server/text/safe-text.ts) are cleaned the same
-- way: C0 and C1 controls, DEL, bidi overrides, embeddings, isolates and marks, line and paragraph
-- separators. A name left empty becomes "Security key".
UPDATE credentials
   SET nickname = coalesce(
         nullif(btrim(regexp_replace(nickname, '[\x01-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]', '', 'g')), ''),
         'Security key')
 WHERE nickname ~ '[\x01-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]';

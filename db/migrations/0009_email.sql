-- Optional email (SMTP_URL): the address Keygate tells a person about their keys at. Given with
-- an invite (the admin page's email field, the CLI's --email), kept on the invite until it is
-- redeemed, then on the person. Unset: Keygate knows no address for them (with GOGS_ADMIN_TOKEN
-- it asks Gogs), and sends nothing.
ALTER TABLE users ADD COLUMN email text CHECK (email IS NULL OR char_length(email) BETWEEN 3 AND 254);
ALTER TABLE invites ADD COLUMN email text CHECK (email IS NULL OR char_length(email) BETWEEN 3 AND 254);

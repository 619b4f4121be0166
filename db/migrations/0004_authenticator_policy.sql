-- What the authenticator policy (server/policy/) judges a stored credential by, recorded at
-- registration. NULL means "not recorded" (credentials enrolled before this migration).
ALTER TABLE credentials
  -- authenticatorAttachment as the browser reported it.
  ADD COLUMN attachment text CHECK (attachment IN ('platform', 'cross-platform')),
  -- The credProps extension's rk: whether the authenticator stored a discoverable credential.
  ADD COLUMN discoverable boolean,
  -- The attestation's certificate chain reached a root the FIDO metadata lists for its AAGUID.
  ADD COLUMN attestation_trusted boolean NOT NULL DEFAULT false;

-- Keygate's initial schema: people, their authenticators, enrolment invites, sessions, settings
-- and the append-only audit log.

CREATE TABLE users (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The Gogs username Keygate asserts in the reverse-proxy header. Gogs looks it up
  -- case-insensitively, so uniqueness here is case-insensitive too.
  username     text NOT NULL CHECK (username ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,34}$'),
  -- WebAuthn user.id: random bytes, never the username (WebAuthn §14.6.1, user handle privacy).
  user_handle  bytea NOT NULL UNIQUE CHECK (octet_length(user_handle) BETWEEN 16 AND 64),
  is_admin     boolean NOT NULL DEFAULT false,
  disabled_at  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_ci ON users (lower(username));

CREATE TABLE credentials (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Unique across all users (WebAuthn §7.1 step 26); at most 1023 bytes (§5.8.3).
  credential_id        bytea NOT NULL CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
  user_id              bigint NOT NULL REFERENCES users (id),
  public_key           bytea NOT NULL,
  sign_count           bigint NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
  transports           text[] NOT NULL DEFAULT '{}',
  aaguid               uuid NOT NULL,
  device_type          text NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up            boolean NOT NULL,
  attestation_format   text NOT NULL,
  nickname             text NOT NULL CHECK (char_length(nickname) BETWEEN 1 AND 64),
  created_at           timestamptz NOT NULL DEFAULT now(),
  last_used_at         timestamptz,
  last_used_ip         inet,
  last_used_user_agent text,
  revoked_at           timestamptz
);
CREATE UNIQUE INDEX credentials_credential_id ON credentials (credential_id);
CREATE INDEX credentials_user ON credentials (user_id);

CREATE TABLE invites (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Only SHA-256 of the token is kept: a database leak does not leak usable links.
  token_hash     bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  username       text NOT NULL,
  -- Set when the invite was made for a user who already existed: redeeming it adds a credential
  -- and keeps the others (recovery).
  user_id        bigint REFERENCES users (id),
  grants_admin   boolean NOT NULL DEFAULT false,
  created_by     text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz,
  used_by_credential bigint REFERENCES credentials (id),
  CHECK (expires_at > created_at),
  CHECK ((used_at IS NULL) = (used_by_credential IS NULL))
);

-- connect-pg-simple's table, created here rather than by the library at runtime. jsonb so that
-- sessions can be found (and ended) by user or by credential.
CREATE TABLE session (
  sid    varchar NOT NULL PRIMARY KEY,
  sess   jsonb NOT NULL,
  expire timestamptz NOT NULL
);
CREATE INDEX sessions_by_expiry ON session (expire);
CREATE INDEX sessions_by_user ON session ((sess -> 'auth' ->> 'userId'));
CREATE INDEX sessions_by_credential ON session ((sess -> 'auth' ->> 'credentialId'));

CREATE TABLE settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_events (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor           text NOT NULL,            -- 'user:<name>', 'cli', 'system' or 'anonymous'
  subject_user_id bigint,
  subject_username text,
  credential_id   bigint,
  event           text NOT NULL,
  outcome         text NOT NULL CHECK (outcome IN ('success', 'failure')),
  reason          text,
  ip              inet,
  user_agent      text,
  request_id      text,
  details         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_subject ON audit_events (subject_user_id, at);
CREATE INDEX audit_events_event ON audit_events (event, at);

-- The audit log is append-only: the database itself refuses to change or remove history.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

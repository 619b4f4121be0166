-- Each running Keygate server, with the public URL it serves (server/ops/servers.ts), so that the
-- CLI can tell when it runs with other settings than the server that uses the same database: its
-- links would point nowhere. A row is refreshed every minute and removed when the server stops.
CREATE TABLE keygate_servers (
  id uuid PRIMARY KEY,
  public_url text NOT NULL,
  host text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  seen_at timestamptz NOT NULL DEFAULT now()
);

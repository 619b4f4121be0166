/** What `keygate-cli --help` prints: kept apart so that help needs no other module. */
export const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  migrate                                         apply database migrations
  invite <username> [--admin] [--ttl <duration>] [--email <address>]
                                                  print a one-time invite link (ttl e.g. 30m, 24h, 7d);
                                                  with GOGS_ADMIN_TOKEN, a missing Gogs user is created
                                                  with that email and a random password; the email is
                                                  kept as the person's address (SMTP_URL)
  invites [--user <username>] [--json]            list pending invites: id, username, kind, admin,
                                                  made by, made, expires (never their links)
  revoke-invite <invite-id>                       revoke a pending invite: its link stops working
  reissue-invite <invite-id> [--ttl <duration>]   revoke a pending invite and print a new URL for the
                                                  same person (lasting as long as the old one did)
  check-gogs [--json]                             check Gogs' set-up as Keygate needs it (reachable, the
                                                  identity header from Keygate's address only, the admin
                                                  token, EXTERNAL_URL, people without a Gogs account),
                                                  each problem with the app.ini line to change
  sync-admins                                     set each user's admin flag from Gogs' site admins
                                                  (needs GOGS_SYNC_ADMINS=true and GOGS_ADMIN_TOKEN)
  users [--json]                                  list users
  devices <username> [--json]                     list a user's keys, one per line
  revoke <key-id>                                 revoke a key and end its sessions
  rename <key-id> <name>                          rename a key
  disable <username>                              disable a user and end all their sessions
  enable <username>                               enable a disabled user
  sessions <username> [--json]                    list a user's signed-in sessions
  logout-everywhere <username>                    end every session of a user
  policy                                          print the effective authenticator policy, then every
                                                  active key it refuses (run it with a tightened
                                                  configuration to see who must re-enrol first)
  audit [--user U] [--event E] [--since T] [--until T] [--limit N] [--json]
                                                  print the audit log, newest first (T: ISO time or a
                                                  duration ago, e.g. 24h); --json gives JSON lines

Listings print a header line, then one tab-separated line per row; --json prints one JSON object
per line instead. A <key-id> or <invite-id> may be shortened to a unique prefix of at least
4 characters. Exit status: 0 done; 2 refused (bad input, unknown or ambiguous id, already revoked
or used); 1 failed otherwise.
`;

-- Gogs gets its own database on the same server; Keygate uses the default one.
CREATE DATABASE gogs OWNER keygate;

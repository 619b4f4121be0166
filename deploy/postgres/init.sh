#!/bin/sh
# PostgreSQL's first start (docker-entrypoint-initdb.d; it runs only while the data volume is empty):
# one role and one database per application, each role owning its own database and nothing else.
#
#   keygate  LOGIN, owns database keygate    (KEYGATE_DB_PASSWORD)
#   gogs     LOGIN, owns database gogs       (GOGS_DB_PASSWORD)
#
# Neither is a superuser, nor may create databases or roles. CONNECT is revoked from PUBLIC on both
# databases (and on the postgres database), so neither role can even connect to the other's. The
# superuser (POSTGRES_USER, POSTGRES_PASSWORD) is used by this script and by the operator only.
#
# The passwords reach PostgreSQL as psql variables quoted with :'name' (a literal, whatever the
# password holds); they are never part of the script's text. Changing a *_DB_PASSWORD variable later
# changes nothing in PostgreSQL: use ALTER ROLE (docs/operations.md, "Secret rotation").
#
# No NOINHERIT: since PostgreSQL 15 a database's owner may create tables in its public schema through
# the implicit role pg_database_owner, whose rights a NOINHERIT role would not use.
#
# The image's entrypoint executes this file when it is executable and sources it otherwise, so it
# sets no shell options and exits only on an error.

for keygate_init_var in POSTGRES_USER KEYGATE_DB_PASSWORD GOGS_DB_PASSWORD; do
	eval "keygate_init_value=\${$keygate_init_var:-}"
	if [ -z "$keygate_init_value" ]; then
		echo "deploy/postgres/init.sh: $keygate_init_var is not set" >&2
		exit 1
	fi
done
if [ "$KEYGATE_DB_PASSWORD" = "$GOGS_DB_PASSWORD" ]; then
	echo "deploy/postgres/init.sh: KEYGATE_DB_PASSWORD and GOGS_DB_PASSWORD must differ" >&2
	exit 1
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
	-v keygate_password="$KEYGATE_DB_PASSWORD" -v gogs_password="$GOGS_DB_PASSWORD" <<'SQL' || exit 1
CREATE ROLE keygate LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'keygate_password';
CREATE ROLE gogs LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'gogs_password';

CREATE DATABASE keygate OWNER keygate ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE gogs OWNER gogs ENCODING 'UTF8' TEMPLATE template0;

REVOKE ALL ON DATABASE keygate FROM PUBLIC;
REVOKE ALL ON DATABASE gogs FROM PUBLIC;
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
SQL

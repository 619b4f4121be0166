#!/bin/sh
# gogs-init (docker-compose.yml): Gogs' first site administrator, and an access token of theirs for
# Keygate. Runs once per `docker compose up`, in the gogs/gogs:0.14.3 image (Alpine: busybox sh,
# curl and gosu are there), after Gogs answers, and before Keygate starts.
#
#  1. If $KEYGATE_GOGS_ENV already holds GOGS_ADMIN_TOKEN=<token> and Gogs accepts that token as
#     FIRST_ADMIN_USERNAME: nothing to do (a second `docker compose up` changes nothing).
#  2. Otherwise `gogs admin create-user --admin` makes FIRST_ADMIN_USERNAME (the name Keygate's
#     first-run link enrols as its first admin) with a random password that is never printed. People
#     sign in with keys through Keygate, never with that password.
#  3. With that password (HTTP Basic), POST /api/v1/users/<name>/tokens makes an access token, and
#     the file $KEYGATE_GOGS_ENV (Keygate's CONFIG_FILE) gets `GOGS_ADMIN_TOKEN=<token>`, mode 0600,
#     owned by Keygate's user. The password is then forgotten.
#
# The password is kept in $GOGS_INIT_STATE (on Gogs' volume, never shared with Keygate, mode 0600)
# only between steps 2 and 3, so that a run cut off in between finishes on the next start. When Gogs
# already had that user (made by someone else, or the token was lost) this script cannot get a token:
# it says so, and Keygate starts without one (invites then do not create Gogs accounts). Give Keygate
# a token yourself then: docs/operations.md, "GOGS_ADMIN_TOKEN".
#
# Exit status: 0 when Keygate may start, 1 otherwise (compose then does not start Keygate).
# The variables below default to the container's layout; test/deploy.test.ts sets them to run this
# script against a stand-in Gogs.
set -eu

name=${FIRST_ADMIN_USERNAME:-}
email=${FIRST_ADMIN_EMAIL:-}
gogs_url=${GOGS_INTERNAL_URL:-http://gogs:3000}
out=${KEYGATE_GOGS_ENV:-/keygate-config/gogs-admin.env}
state=${GOGS_INIT_STATE:-/data/keygate-init}
gogs_bin=${GOGS_BIN:-/app/gogs/gogs}
gogs_config=${GOGS_CONFIG:-/data/gogs/conf/app.ini}
# Gogs refuses to run as anyone but RUN_USER (app.ini): git. Empty: run it as the current user.
run_as=${GOGS_RUN_AS-git}
# The node user of Keygate's image, which reads $out.
owner=${KEYGATE_FILE_OWNER:-1000:1000}
tries=${GOGS_WAIT_TRIES:-60}

say() { printf 'gogs-init: %s\n' "$*"; }
fail() {
	printf 'gogs-init: %s\n' "$*" >&2
	exit 1
}

[ -n "$name" ] || fail "FIRST_ADMIN_USERNAME is not set"
case $name in
*[!A-Za-z0-9_.-]* | [.-]*) fail "FIRST_ADMIN_USERNAME \"$name\" is not a valid Gogs username" ;;
esac
# Gogs 0.14's reserved names (internal/database/users.go): create-user refuses them.
case $(printf '%s' "$name" | tr '[:upper:]' '[:lower:]') in
- | explore | create | assets | css | img | js | less | plugins | debug | raw | install | api | avatar | user | org | help | stars | issues | pulls | commits | repo | template | admin | new | *.keys)
	fail "FIRST_ADMIN_USERNAME \"$name\" is a name Gogs reserves: choose another (the same for Keygate and Gogs)"
	;;
esac
[ -n "$email" ] || email="$name@localhost"

umask 077
mkdir -p "$state" "$(dirname "$out")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# api METHOD PATH CURL-CONFIG-LINE [JSON]: the HTTP status (000: no answer); the body in $work/body.
# The credential goes to curl on its standard input (-K -), never on its command line.
api() {
	if [ $# -gt 3 ]; then
		printf '%s\n' "$3" | curl -sS -K - -o "$work/body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' --data "$4" "$gogs_url$2" || true
	else
		printf '%s\n' "$3" | curl -sS -K - -o "$work/body" -w '%{http_code}' -X "$1" "$gogs_url$2" || true
	fi
}

# The file Keygate reads as CONFIG_FILE: dotenv syntax, Keygate's variables only.
write_settings() {
	{
		printf '# Written by gogs-init (deploy/gogs/init.sh) on %s; Keygate reads it as CONFIG_FILE.\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		if [ -n "$1" ]; then printf 'GOGS_ADMIN_TOKEN=%s\n' "$1"; else printf '# No GOGS_ADMIN_TOKEN: see the log of gogs-init.\n'; fi
	} >"$out.tmp"
	chmod 600 "$out.tmp"
	if [ "$(id -u)" = 0 ]; then chown "$owner" "$out.tmp"; fi
	mv -f "$out.tmp" "$out"
}

i=0
until curl -fsS -o /dev/null "$gogs_url/healthcheck"; do
	i=$((i + 1))
	[ "$i" -lt "$tries" ] || fail "Gogs did not answer at $gogs_url/healthcheck"
	sleep 2
done

# 1. A token from an earlier run that Gogs still accepts, as this user: nothing to do.
token=
if [ -f "$out" ]; then token=$(sed -n 's/^GOGS_ADMIN_TOKEN=\([0-9a-fA-F]\{40\}\)$/\1/p' "$out"); fi
if [ -n "$token" ]; then
	status=$(api GET /api/v1/user "header = \"Authorization: token $token\"")
	case $status in
	200)
		owner_name=$(sed -n 's/.*"username":"\([^"]*\)".*/\1/p' "$work/body")
		if [ "$(printf '%s' "$owner_name" | tr '[:upper:]' '[:lower:]')" = "$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')" ]; then
			say "$out holds a token of $name that Gogs accepts: nothing to do"
			exit 0
		fi
		say "the token in $out is $owner_name's, not $name's: making $name's"
		;;
	401 | 403) say "Gogs no longer accepts the token in $out: making a new one" ;;
	*) fail "Gogs answered $status to GET /api/v1/user; $out is left as it is: run docker compose up again" ;;
	esac
fi

# 2. The site administrator, with a random password.
pending="$state/pending-password"
if [ -s "$pending" ]; then
	password=$(cat "$pending")
	say "an earlier run stopped after creating $name: finishing it"
else
	password=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$password" >"$pending"
fi
if [ -n "$run_as" ]; then
	set -- gosu "$run_as" "$gogs_bin"
else
	set -- "$gogs_bin"
fi
if created=$("$@" admin create-user --name "$name" --password "$password" --email "$email" --admin --config "$gogs_config" 2>&1); then
	say "created $name, a Gogs site administrator (random password, never shown: sign in through Keygate)"
else
	case $created in
	*"user already exists"*) say "Gogs already has a user $name" ;;
	*)
		rm -f "$pending"
		printf '%s\n' "$created" | sed "s/$password/[password]/g" >&2
		fail "gogs admin create-user failed (above)"
		;;
	esac
fi

# 3. The access token, for Keygate.
status=$(api POST "/api/v1/users/$name/tokens" "user = \"$name:$password\"" "{\"name\":\"keygate $(date -u +%Y-%m-%dT%H:%M:%SZ)\"}")
case $status in
201)
	token=$(sed -n 's/.*"sha1":"\([0-9a-fA-F]\{40\}\)".*/\1/p' "$work/body")
	[ -n "$token" ] || fail "Gogs' answer to POST /api/v1/users/$name/tokens has no token"
	write_settings "$token"
	rm -f "$pending"
	say "wrote an access token of $name to $out (GOGS_ADMIN_TOKEN)"
	;;
401 | 403)
	# The user existed before with a password this script does not know.
	rm -f "$pending"
	if [ -f "$out" ] && ! grep -q '^GOGS_ADMIN_TOKEN=' "$out"; then :; else write_settings ""; fi
	say "WARNING: cannot make an access token for $name, who existed in Gogs before this script (or whose token was lost)."
	say "Keygate starts without GOGS_ADMIN_TOKEN: invites will not create Gogs accounts. To give it one, create a token"
	say "for $name in Gogs (Your settings > Applications) and set GOGS_ADMIN_TOKEN in the .env file next to docker-compose.yml."
	;;
*) fail "Gogs answered $status to POST /api/v1/users/$name/tokens: run docker compose up again" ;;
esac

#!/usr/bin/env bash
# Makes this machine ready for `npm test` (the README's second command), and is what .ci/run uses:
# PostgreSQL answering at $DATABASE_URL's host, Redis on 127.0.0.1:6379 and redis-server for
# private instances, PgBouncer, Debian's Chromium, and AWS CLI v2. As root with apt-get, a missing
# piece is installed from Debian and a stopped service started; otherwise (or with
# DEPUTY_TEST_NO_INSTALL=1) each missing piece is named in one line and the suite does not start.
set -uo pipefail

is_root=false
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${DEPUTY_TEST_NO_INSTALL:-0}" != 1 ] && is_root=true
updated=false
missing=()

apt_install() { # package, what it is for
  if ! $is_root; then missing+=("$1 ($2): sudo apt-get install -y $1"); return 1; fi
  echo "test-prerequisites: installing $1 from Debian ($2)"
  if ! $updated; then apt-get update -qq >/dev/null 2>&1; updated=true; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1 || { missing+=("$1 ($2): apt-get install -y $1 failed"); return 1; }
}

# PostgreSQL: the suite's databases (DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres).
db_url="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
db_host=$(node -e 'const u=new URL(process.argv[1]);process.stdout.write(u.hostname||"127.0.0.1")' "$db_url")
db_port=$(node -e 'const u=new URL(process.argv[1]);process.stdout.write(u.port||"5432")' "$db_url")
if command -v pg_isready >/dev/null 2>&1 && pg_isready -h "$db_host" -p "$db_port" -q; then :
elif command -v pg_ctlcluster >/dev/null 2>&1 && $is_root && { [ "$db_host" = 127.0.0.1 ] || [ "$db_host" = localhost ]; }; then
  echo "test-prerequisites: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 30); do pg_isready -h "$db_host" -p "$db_port" -q && break; sleep 1; done
  pg_isready -h "$db_host" -p "$db_port" -q || missing+=("PostgreSQL at $db_host:$db_port did not start")
elif ! command -v pg_ctlcluster >/dev/null 2>&1 && { [ "$db_host" = 127.0.0.1 ] || [ "$db_host" = localhost ]; } && apt_install postgresql "the suite's database"; then
  # Debian's new cluster asks for a password over TCP; the suite connects as postgres without one.
  hba="/etc/postgresql/$(ls /etc/postgresql | head -n 1)/main/pg_hba.conf"
  echo "test-prerequisites: trusting loopback connections in $hba (this cluster was installed for the tests)"
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main restart
  for _ in $(seq 1 30); do pg_isready -h "$db_host" -p "$db_port" -q && break; sleep 1; done
  pg_isready -h "$db_host" -p "$db_port" -q || missing+=("PostgreSQL at $db_host:$db_port did not start")
elif [ ${#missing[@]} -eq 0 ] || ! printf '%s\n' "${missing[@]}" | grep -q '^postgresql'; then
  missing+=("PostgreSQL answering at $db_host:$db_port (set DATABASE_URL to one that does)")
fi

# Redis: shared rate limits use 127.0.0.1:6379; some tests start private redis-server processes.
command -v redis-server >/dev/null 2>&1 || apt_install redis-server "shared rate limits and token cache tests"
if command -v redis-server >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "test-prerequisites: starting Redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || missing+=("Redis on 127.0.0.1:6379 did not start")
fi

[ -x /usr/sbin/pgbouncer ] || apt_install pgbouncer "test/db/pgbouncer.test.ts: deputy behind transaction pooling"
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || apt_install chromium "test/console: the browser console in Debian's Chromium"
# AWS CLI v2 (Debian's awscli) at /usr/bin/aws: a client nobody here wrote, against deputy.
[ -x /usr/bin/aws ] || apt_install awscli "tests that run AWS CLI v2 against deputy"

if [ ${#missing[@]} -gt 0 ]; then
  for item in "${missing[@]}"; do echo "npm test needs $item" >&2; done
  exit 1
fi

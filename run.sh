#!/usr/bin/env bash
# Runs the gateway in sandbox mode: installs PostgreSQL 15 and Redis 7 if missing, starts them with their data
# under .data/, builds, runs the Vault's one-shot migration step, starts the Vault and the Host, prints the URLs,
# restarts either process when it dies, and stops both on Ctrl-C.
#
#   ./run.sh                              run the gateway (GATEWAY_MODE=Live for live mode)
#   ./run.sh merchant create --name NAME  create a merchant; prints {"merchant_id","client_id","client_secret"}
#   ./run.sh merchant rotate-secret ...   other operator verbs of the Host (see README)
#   ./run.sh vault VERB ...               operator verbs of the Vault (migrate, key rotation, audit verification)
#   ./run.sh service-key rotate           a new Host<->Vault key; the Vault accepts the old one (24 h, SERVICE_KEY_GRACE_HOURS)
#   ./run.sh service-key finish           the Vault drops the old key
#   ./run.sh stop                         stop a running ./run.sh, PostgreSQL and Redis
#   ./run.sh help                         this list
#
# Environment: PAYMENTS_DATA_DIR (.data), HOST_PORT (5080), HOST_MANAGEMENT_PORT (5081), VAULT_PORT (5090),
# VAULT_INTERNAL_PORT (5091), VAULT_MANAGEMENT_PORT (5092), PG_PORT (55432), REDIS_PORT (56379), NO_BUILD=1;
# OTEL_* and Telemetry__* (passed to both processes), Vault__Acquirer (passed to the Vault; live mode needs it),
# ALLOW_DEVELOPMENT_KEK=1 (live mode with the KEK components run.sh generated).
#
# Each process gets only its own secrets (SECURITY.md, ADR 110): data/secrets/host.env and vault.env, one per
# process; the Vault's owner credential (vault-owner.env) only reaches the migration step. As root, the Host and
# the Vault run as their own OS users (payments-host, payments-vault) from a copy of the build they can read.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
. scripts/lib.sh
. scripts/gateway.sh

data="${PAYMENTS_DATA_DIR:-$root/.data}"
mkdir -p "$data"
data=$(cd "$data" && pwd)
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
HOST_PORT="${HOST_PORT:-5080}"
HOST_MANAGEMENT_PORT="${HOST_MANAGEMENT_PORT:-5081}"
VAULT_PORT="${VAULT_PORT:-5090}"
VAULT_INTERNAL_PORT="${VAULT_INTERNAL_PORT:-5091}"
VAULT_MANAGEMENT_PORT="${VAULT_MANAGEMENT_PORT:-5092}"
GATEWAY_MODE="${GATEWAY_MODE:-Sandbox}"
secrets="$data/secrets"
rundir="$data/run"

usage() {
  cat <<'USAGE'
Usage: ./run.sh [VERB ...]
  ./run.sh                              run the gateway (GATEWAY_MODE=Live for live mode)
  ./run.sh merchant VERB ...            the Host's operator verbs (create, rotate-secret, set-limits)
  ./run.sh keys rotate [--now]          a new JWT signing key
  ./run.sh vault VERB ...               the Vault's operator verbs (keys, kek, merchant, requests, audit, migrate)
  ./run.sh service-key rotate|finish    a new Host<->Vault key; the Vault drops the old one
  ./run.sh stop                         stop a running ./run.sh, PostgreSQL and Redis
  ./run.sh help                         this list
See README.md, "Operator commands", and the comment at the top of run.sh for the environment it reads.
USAGE
}

# The verb first: an unknown one, or help, starts nothing.
case "${1:-}" in
  ""|stop|merchant|keys|vault|service-key) ;;
  help|-h|--help) usage; exit 0 ;;
  *) log "unknown command: $1"; usage >&2; exit 2 ;;
esac

# OS users: as root, one per process, so neither can read the other's files or /proc entries.
if [ "$(id -u)" = 0 ]; then
  host_user=payments-host; vault_user=payments-vault
else
  host_user=$(id -un); vault_user=$host_user
fi

if [ "${1:-}" = "stop" ]; then
  # What the PID files name is stopped only when it runs this checkout's build (is_ours), Redis only when it is ours.
  host_dir=$(build_dir Payments.Host "$host_user"); vault_dir=$(build_dir Payments.Vault "$vault_user")
  stop_recorded "$rundir"; pg_stop "$data/pg"; redis_stop "$REDIS_PORT" "$data/redis"; log "stopped"; exit 0
fi

ensure_packages
if [ "$(id -u)" = 0 ]; then ensure_system_user "$host_user"; ensure_system_user "$vault_user"; fi
host_dir=$(build_dir Payments.Host "$host_user"); vault_dir=$(build_dir Payments.Vault "$vault_user")
mkdir -p "$data/logs" "$rundir" "$secrets" "$data/redis"
chmod 755 "$data" "$rundir"
chmod 700 "$data/logs"   # the Vault's log is not the Host user's to read
chmod 711 "$secrets"     # each process user may open its own file, list none

ensure_secrets "$data" "$host_user" "$vault_user"

serving=""
case "${1:-}" in "") serving=1 ;; esac

# Live mode wants split knowledge of the KEK (ADR 125, PCI DSS 3.6.1.2): components run.sh generated on this machine
# are one person's. It refuses them unless told, so a live gateway never runs on them by accident.
dev_kek=""
if [ -n "$serving" ] && [ "${GATEWAY_MODE,,}" = live ] && [ -f "$secrets/kek/generated-by-run-sh" ]; then
  if [ "${ALLOW_DEVELOPMENT_KEK:-}" != 1 ]; then
    log "Live mode refuses the development KEK: run.sh generated every component in $secrets/kek on this machine."
    log "Each custodian provides their own component (docs/crypto-architecture.md, KEK rotation), then delete"
    log "$secrets/kek/generated-by-run-sh; or, to try live mode on a development machine, ALLOW_DEVELOPMENT_KEK=1."
    exit 1
  fi
  dev_kek=1
fi

if [ -z "${NO_BUILD:-}" ]; then
  dotnet build Payments.Modular.sln -c Release -nologo -clp:ErrorsOnly -v:q >&2
fi

# Every port must be free or held by what is ours, checked before anything starts: another program on a port would
# otherwise answer in our place, or leave a process crash-looping on its bind.
refuse_port() { log "port $1 ($2) is in use by another program: $3"; exit 1; }
if [ -n "$serving" ]; then
  stop_recorded "$rundir"   # a previous run that crashed may have left a Host or a Vault holding the ports
  for name in HOST_PORT HOST_MANAGEMENT_PORT VAULT_PORT VAULT_INTERNAL_PORT VAULT_MANAGEMENT_PORT; do
    if port_in_use "${!name}"; then refuse_port "${!name}" "$name" "choose another $name, or stop that program."; fi
  done
fi
pg_running_port=$(pg_port_of "$data/pg")
if [ -n "$pg_running_port" ] && [ "$pg_running_port" != "$PG_PORT" ]; then
  log "The PostgreSQL of $data/pg runs on port $pg_running_port, not PG_PORT=$PG_PORT: './run.sh stop' first."; exit 1
fi
if [ -z "$pg_running_port" ] && port_in_use "$PG_PORT"; then
  refuse_port "$PG_PORT" PG_PORT "not the PostgreSQL of $data/pg; choose another PG_PORT."
fi
if port_in_use "$REDIS_PORT" && ! redis_is "$data/redis" "$REDIS_PORT"; then
  refuse_port "$REDIS_PORT" REDIS_PORT "not the Redis of $data/redis; choose another REDIS_PORT."
fi

pg_start "$data/pg" "$PG_PORT" -c max_connections=300 -c max_wal_size=4GB
redis_start "$data/redis" "$REDIS_PORT"

# Roles and databases: the Host's, and the Vault's own (its own credentials; the Host cannot reach it). The
# passwords go through psql's standard input, never a command line.
(
  . "$secrets/host.env"; . "$secrets/vault.env"; . "$secrets/vault-owner.env"
  pg_psql "$data/pg" "$PG_PORT" <<SQL
-- Quiet on a run after the first: no NOTICE that vault_owner already has vault_keyadmin.
SET client_min_messages = warning;
SELECT 'CREATE ROLE payments LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payments')\gexec
ALTER ROLE payments PASSWORD '$PAYMENTS_DB_PASSWORD';
SELECT 'CREATE DATABASE payments OWNER payments' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'payments')\gexec
SELECT 'CREATE ROLE vault_owner LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vault_owner')\gexec
ALTER ROLE vault_owner PASSWORD '$VAULT_OWNER_DB_PASSWORD';
SELECT 'CREATE ROLE vault LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vault')\gexec
ALTER ROLE vault PASSWORD '$VAULT_DB_PASSWORD';
SELECT 'CREATE DATABASE vault OWNER vault_owner' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'vault')\gexec
-- Owns the key administration functions (docs/adr/0125): NOLOGIN, reached only through them.
SELECT 'CREATE ROLE vault_keyadmin NOLOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vault_keyadmin')\gexec
GRANT vault_keyadmin TO vault_owner;
ALTER DATABASE vault OWNER TO vault_owner;
REVOKE ALL ON DATABASE vault FROM PUBLIC;
GRANT CONNECT ON DATABASE vault TO vault;
REVOKE ALL ON DATABASE payments FROM PUBLIC;
SQL
)

# As root the build is copied where the process users can read it (the clone may sit in a private home
# directory); re-copied on every start of the gateway, reused by the operator verbs.
host_dir=$(install_build Payments.Host "$host_user" "$serving")
vault_dir=$(install_build Payments.Vault "$vault_user" "$serving")
mkdir -p "$data/home/host" "$data/home/vault"
chown "$host_user" "$data/home/host"; chown "$vault_user" "$data/home/vault"
chmod 700 "$data/home/host" "$data/home/vault"

pg="Host=127.0.0.1;Port=$PG_PORT"
# Each process' configuration, as KEY=value lines read from its own secrets file; passed on a file descriptor.
host_env() (
  . "$secrets/host.env"
  cat <<ENV
ConnectionStrings__Payments=$pg;Username=payments;Password=$PAYMENTS_DB_PASSWORD;Database=payments;Maximum Pool Size=64
ConnectionStrings__Redis=127.0.0.1:$REDIS_PORT,abortConnect=false
Vault__BaseUrl=http://127.0.0.1:$VAULT_INTERNAL_PORT/
Vault__PublicUrl=http://127.0.0.1:$VAULT_PORT
Vault__ServiceKey=$VAULT_SERVICE_KEY
Gateway__Mode=$GATEWAY_MODE
Gateway__PublicBaseUrl=http://127.0.0.1:$HOST_PORT
Webhooks__SecretKey=$WEBHOOKS_SECRET_KEY
Idempotency__SecretKey=$IDEMPOTENCY_SECRET_KEY
Auth__KeyEncryptionKey=$AUTH_KEY_ENCRYPTION_KEY
Listeners__Public=http://127.0.0.1:$HOST_PORT
Listeners__Management=http://127.0.0.1:$HOST_MANAGEMENT_PORT
ENV
  telemetry_env
)
vault_env() (
  . "$secrets/vault.env"
  cat <<ENV
ConnectionStrings__Vault=$pg;Username=vault;Password=$VAULT_DB_PASSWORD;Database=vault;Maximum Pool Size=64
Vault__PublicUrl=http://127.0.0.1:$VAULT_PORT
Vault__ServiceKey=$VAULT_SERVICE_KEY
Gateway__Mode=$GATEWAY_MODE
Gateway__PublicBaseUrl=http://127.0.0.1:$HOST_PORT
DOTNET_EnableDiagnostics=0
Listeners__Public=http://127.0.0.1:$VAULT_PORT
Listeners__Internal=http://127.0.0.1:$VAULT_INTERNAL_PORT
Listeners__Management=http://127.0.0.1:$VAULT_MANAGEMENT_PORT
ENV
  telemetry_env
  # Live mode runs only an acquirer named knowingly (ADR 116): the operator's Vault__Acquirer, never a default here.
  env_lines Vault__Acquirer
  # The KEK: one file per custodian, read by the Vault itself (docs/adr/0125); only their paths pass here.
  kek_files "$secrets"
  # During a service-key rotation the Vault accepts the previous key too (run.sh service-key rotate).
  if [ -n "${VAULT_PREVIOUS_SERVICE_KEY:-}" ]; then
    echo "Vault__PreviousServiceKey=$VAULT_PREVIOUS_SERVICE_KEY"
    echo "Vault__PreviousServiceKeyUntil=${VAULT_PREVIOUS_SERVICE_KEY_UNTIL:-}"
  fi
)
# The one-shot migration step: the owner credential and the serving role's name, nothing else.
vault_migrate_env() (
  . "$secrets/vault-owner.env"
  cat <<ENV
ConnectionStrings__Vault=$pg;Username=vault;Database=vault
ConnectionStrings__VaultMigrations=$pg;Username=vault_owner;Password=$VAULT_OWNER_DB_PASSWORD;Database=vault;Pooling=false
Gateway__Mode=$GATEWAY_MODE
DOTNET_EnableDiagnostics=0
ENV
)

# Each replaces the calling shell (launch execs): call them last, or in a subshell.
run_host() { launch "$host_user" "$host_dir" "$data/home/host" Payments.Host.dll "$@" 3< <(host_env); }
# With a verb, also who runs it (ADR 131): the verb runs as the Vault's user from an empty environment, so the user
# sudo was run by, and the user who ran this script, are handed to it. The serving Vault (no verb) gets neither.
run_vault() {
  launch "$vault_user" "$vault_dir" "$data/home/vault" Payments.Vault.dll "$@" 3< <(vault_env
    if [ $# -gt 0 ]; then
      if [ -n "${SUDO_USER:-}" ]; then echo "SUDO_USER=$SUDO_USER"; fi
      echo "PAYMENTS_INVOKING_USER=$(id -un)"
    fi)
}
vault_migrate() {
  ( launch "$vault_user" "$vault_dir" "$data/home/vault" Payments.Vault.dll migrate 3< <(vault_migrate_env) )
}

case "${1:-}" in
  merchant|keys)
    run_host "$@"; exit $? ;;
  vault)
    shift
    # Without a verb the Vault binary would serve a second Vault on the same ports.
    if [ $# -eq 0 ]; then echo "Usage: ./run.sh vault VERB ... (see README, Operator commands)" >&2; exit 2; fi
    if [ "${1:-}" = migrate ]; then vault_migrate; exit $?; fi
    run_vault "$@"; exit $? ;;
  service-key)
    rotate_service_key "$secrets" "${2:-}" || exit $?
    # A running gateway picks the files up as its supervisor restarts each process: the Vault first (it accepts
    # both keys), then, on rotate, the Host (it signs with the new one); finish changes the Vault's keys only.
    names="vault host"; [ "${2:-}" = finish ] && names="vault"
    restarted="[]"
    if is_ours run.sh "$(cat "$rundir/run.sh.pid" 2>/dev/null)"; then
      restarted="[\"${names// /\",\"}\"]"
      for name in $names; do
        old=$(cat "$rundir/$name.pid" 2>/dev/null || true)
        is_ours "$name" "$old" && kill -TERM "$old"
        for _ in $(seq 1 240); do
          new=$(cat "$rundir/$name.pid" 2>/dev/null || true)
          if [ "$new" != "$old" ] && is_ours "$name" "$new"; then break; fi
          sleep 0.5
        done
        port=$VAULT_PORT; [ "$name" = host ] && port=$HOST_PORT
        wait_ready "$port" /health/ready "$new" || { log "$name did not come back"; exit 1; }
      done
    fi
    log "service key: ${2:-} done"
    # One JSON object on stdout, like every operator verb (no key material in it).
    if [ "${2:-}" = rotate ]; then
      printf '{"service_key":"rotated","previous_key_accepted_until":"%s","restarted":%s}\n' \
        "$(secret_of "$secrets/vault.env" VAULT_PREVIOUS_SERVICE_KEY_UNTIL)" "$restarted"
    else
      printf '{"service_key":"finished","restarted":%s}\n' "$restarted"
    fi
    exit 0 ;;
esac

# The one-shot step: migrations and grants as the Vault's owner role, before the Vault serves without that role.
vault_migrate >>"$data/logs/vault.log" 2>&1 || { log "vault migrate failed (see $data/logs/vault.log)"; exit 1; }

# Supervision: each process runs in the background with its PID recorded; when one exits unexpectedly it is
# started again after a back-off (1 s doubling to 30 s, reset after a minute of running); SIGINT/SIGTERM stops both.
declare -A pid_of started_at backoff
echo $$ > "$rundir/run.sh.pid"
stopping=""
start_proc() {
  local name=$1
  case "$name" in
    vault) ( run_vault ) >>"$data/logs/vault.log" 2>&1 & ;;
    host) ( run_host ) >>"$data/logs/host.log" 2>&1 & ;;
  esac
  pid_of[$name]=$!
  started_at[$name]=$SECONDS
  echo "${pid_of[$name]}" > "$rundir/$name.pid"
}
stop_all() {
  trap - INT TERM EXIT
  stopping=1
  local p
  for p in "${pid_of[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=""
    for p in "${pid_of[@]}"; do if kill -0 "$p" 2>/dev/null; then alive=1; fi; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for p in "${pid_of[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$rundir/host.pid" "$rundir/vault.pid" "$rundir/run.sh.pid"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

# not_ready NAME LOG OFFSET: says so, with the error lines the process wrote to LOG from OFFSET on (why it stopped).
not_ready() { log "$1 not ready (see $2):"; last_errors "$2" "$3" >&2; exit 1; }
at=$(log_size "$data/logs/vault.log")
start_proc vault
wait_ready "$VAULT_PORT" /health/ready "${pid_of[vault]}" || not_ready Vault "$data/logs/vault.log" "$at"
at=$(log_size "$data/logs/host.log")
start_proc host
wait_ready "$HOST_PORT" /health/ready "${pid_of[host]}" || not_ready Host "$data/logs/host.log" "$at"

# Before the banner, which is what a reader (or a test) waits for.
if [ -n "$dev_kek" ]; then
  log "WARNING: live mode on the development KEK (ALLOW_DEVELOPMENT_KEK=1): one person holds every component; not for real cards."
fi
cat >&2 <<MSG

Payments gateway running in ${GATEWAY_MODE} mode.
  Merchant API     http://127.0.0.1:$HOST_PORT/v1
  API reference    http://127.0.0.1:$HOST_PORT/reference/v1
  OpenAPI          http://127.0.0.1:$HOST_PORT/openapi/v1.json
  Host health      http://127.0.0.1:$HOST_PORT/health/ready   (metrics: http://127.0.0.1:$HOST_MANAGEMENT_PORT/metrics)
  Card entry       http://127.0.0.1:$VAULT_PORT                (Host only: $VAULT_INTERNAL_PORT; metrics: $VAULT_MANAGEMENT_PORT)
  Logs             $data/logs/
Create a merchant in another terminal:  ./run.sh merchant create --name "My Shop"
Ctrl-C stops the Host and the Vault; './run.sh stop' stops PostgreSQL and Redis.
MSG

while [ -z "$stopping" ]; do
  exited=""
  wait -n -p exited "${pid_of[@]}" && code=0 || code=$?
  [ -n "$stopping" ] && break
  for name in "${!pid_of[@]}"; do
    if [ "${pid_of[$name]}" = "$exited" ] || ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
      if [ $((SECONDS - started_at[$name])) -ge 60 ]; then backoff[$name]=1; fi
      delay=${backoff[$name]:-1}
      log "run.sh: $name (pid ${pid_of[$name]}) exited with code $code; restarting it in ${delay}s"
      sleep "$delay"
      backoff[$name]=$((delay * 2 > 30 ? 30 : delay * 2))
      [ -n "$stopping" ] && break
      start_proc "$name"
    fi
  done
done

#!/usr/bin/env bash
# Runs the gateway in sandbox mode: installs PostgreSQL 15 and Redis 7 if missing, starts them with their data
# under .data/, builds, starts the Vault (5090) and the Host (5080), prints the URLs, and stops all on Ctrl-C.
#
#   ./run.sh                              run the gateway (GATEWAY_MODE=Live for live mode)
#   ./run.sh merchant create --name NAME  create a merchant; prints {"merchant_id","client_id","client_secret"}
#   ./run.sh merchant rotate-secret ...   other operator verbs of the Host (see README)
#   ./run.sh vault VERB ...               operator verbs of the Vault (key rotation, audit verification)
#   ./run.sh stop                         stop PostgreSQL and Redis started by this script
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
. scripts/lib.sh

data="$root/.data"
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
HOST_PORT="${HOST_PORT:-5080}"
VAULT_PORT="${VAULT_PORT:-5090}"
GATEWAY_MODE="${GATEWAY_MODE:-Sandbox}"

if [ "${1:-}" = "stop" ]; then
  pg_stop "$data/pg"; redis_stop "$REDIS_PORT"; log "stopped"; exit 0
fi

ensure_packages
mkdir -p "$data/logs"
chmod 755 "$data"

# Secrets are made once, kept in a file only this user can read, and never printed.
if [ ! -f "$data/secrets.env" ]; then
  umask 077
  {
    echo "PAYMENTS_DB_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
    echo "VAULT_DB_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
    echo "VAULT_SERVICE_KEY=$(head -c 32 /dev/urandom | base64)"
    # The Vault's key-encryption key, in three full-length components combined by XOR: no holder knows the key.
    echo "VAULT_KEK_1=$(head -c 32 /dev/urandom | base64)"
    echo "VAULT_KEK_2=$(head -c 32 /dev/urandom | base64)"
    echo "VAULT_KEK_3=$(head -c 32 /dev/urandom | base64)"
  } > "$data/secrets.env"
  umask 022
fi
# The Auth module's signing-key encryption key (added to older secrets files too).
if ! grep -q '^AUTH_KEY_ENCRYPTION_KEY=' "$data/secrets.env"; then
  (umask 077; echo "AUTH_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)" >> "$data/secrets.env")
fi
# The Vault's owner role (migrations) came later than the first secrets file: add its password when missing.
if ! grep -q '^VAULT_OWNER_DB_PASSWORD=' "$data/secrets.env"; then
  (umask 077; echo "VAULT_OWNER_DB_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" >> "$data/secrets.env")
fi
set -a; . "$data/secrets.env"; set +a

pg_start "$data/pg" "$PG_PORT" -c max_connections=300 -c max_wal_size=4GB
redis_start "$data/redis" "$REDIS_PORT"

# Roles and databases: the Host's, and the Vault's own (its own credentials; the Host cannot reach it).
pg_psql "$data/pg" "$PG_PORT" <<SQL
SELECT 'CREATE ROLE payments LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payments')\gexec
ALTER ROLE payments PASSWORD '$PAYMENTS_DB_PASSWORD';
SELECT 'CREATE DATABASE payments OWNER payments' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'payments')\gexec
SELECT 'CREATE ROLE vault_owner LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vault_owner')\gexec
ALTER ROLE vault_owner PASSWORD '$VAULT_OWNER_DB_PASSWORD';
SELECT 'CREATE ROLE vault LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vault')\gexec
ALTER ROLE vault PASSWORD '$VAULT_DB_PASSWORD';
SELECT 'CREATE DATABASE vault OWNER vault_owner' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'vault')\gexec
ALTER DATABASE vault OWNER TO vault_owner;
REVOKE ALL ON DATABASE vault FROM PUBLIC;
GRANT CONNECT ON DATABASE vault TO vault;
REVOKE ALL ON DATABASE payments FROM PUBLIC;
SQL

if [ -z "${NO_BUILD:-}" ]; then
  dotnet build Payments.Modular.sln -c Release -nologo -clp:ErrorsOnly -v:q >&2
fi
host_dir="$root/artifacts/bin/Payments.Host/release"
vault_dir="$root/artifacts/bin/Payments.Vault/release"

export ConnectionStrings__Payments="Host=127.0.0.1;Port=$PG_PORT;Username=payments;Password=$PAYMENTS_DB_PASSWORD;Database=payments;Maximum Pool Size=64"
export ConnectionStrings__Redis="127.0.0.1:$REDIS_PORT,abortConnect=false"
export Vault__BaseUrl="http://127.0.0.1:$VAULT_PORT/"
export Vault__ServiceKey="$VAULT_SERVICE_KEY"
export Gateway__Mode="$GATEWAY_MODE"
export Auth__KeyEncryptionKey="$AUTH_KEY_ENCRYPTION_KEY"

vault_env() {
  env -u ConnectionStrings__Payments -u ConnectionStrings__Redis -u Auth__KeyEncryptionKey \
    ConnectionStrings__Vault="Host=127.0.0.1;Port=$PG_PORT;Username=vault;Password=$VAULT_DB_PASSWORD;Database=vault;Maximum Pool Size=64" \
    ConnectionStrings__VaultMigrations="Host=127.0.0.1;Port=$PG_PORT;Username=vault_owner;Password=$VAULT_OWNER_DB_PASSWORD;Database=vault;Pooling=false" \
    Vault__PublicUrl="http://127.0.0.1:$VAULT_PORT" \
    Vault__Kek__Components__0="$VAULT_KEK_1" Vault__Kek__Components__1="$VAULT_KEK_2" Vault__Kek__Components__2="$VAULT_KEK_3" \
    Gateway__Mode="$GATEWAY_MODE" "$@"
}

case "${1:-}" in
  merchant)
    cd "$host_dir" && exec dotnet Payments.Host.dll "$@" ;;
  vault)
    shift; cd "$vault_dir"; vault_env dotnet Payments.Vault.dll "$@"; exit $? ;;
  "") ;;
  *) log "unknown command: $1"; exit 2 ;;
esac

pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; }
trap stop_all EXIT INT TERM

(cd "$vault_dir" && vault_env ASPNETCORE_URLS="http://127.0.0.1:$VAULT_PORT" dotnet Payments.Vault.dll) \
  >>"$data/logs/vault.log" 2>&1 &
pids+=($!)
(cd "$host_dir" && ASPNETCORE_URLS="http://127.0.0.1:$HOST_PORT" dotnet Payments.Host.dll) \
  >>"$data/logs/host.log" 2>&1 &
pids+=($!)

for url in "http://127.0.0.1:$VAULT_PORT/health/ready" "http://127.0.0.1:$HOST_PORT/health/ready"; do
  for i in $(seq 1 120); do
    if curl -fsS "$url" >/dev/null 2>&1; then break; fi
    if [ "$i" = 120 ]; then log "not ready: $url (see .data/logs/)"; exit 1; fi
    sleep 0.5
  done
done

cat >&2 <<MSG

Payments gateway running in ${GATEWAY_MODE} mode.
  Merchant API     http://127.0.0.1:$HOST_PORT/v1
  API reference    http://127.0.0.1:$HOST_PORT/reference/v1
  OpenAPI          http://127.0.0.1:$HOST_PORT/openapi/v1.json
  Host health      http://127.0.0.1:$HOST_PORT/health/ready
  Vault            http://127.0.0.1:$VAULT_PORT  (health: /health/ready)
  Logs             .data/logs/
Create a merchant in another terminal:  ./run.sh merchant create --name "My Shop"
Ctrl-C stops the Host and the Vault; './run.sh stop' stops PostgreSQL and Redis.
MSG
wait -n "${pids[@]}"

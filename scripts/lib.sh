# Shared by run.sh, test.sh and perf: installing and starting PostgreSQL 15 and Redis 7 from Debian's packages.
# Sourced, not run. Everything lives under the git-ignored .data/ (run) or a temporary folder (tests).

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

log() { printf '%s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

# Installs what is missing: PostgreSQL 15, Redis, (with --browser) Chromium for the browser tests, and (with
# --examples) jq, Node.js and Python for the integration examples.
ensure_packages() {
  local want=()
  [ -x "$PG_BIN/pg_ctl" ] || want+=(postgresql postgresql-contrib)
  command -v redis-server >/dev/null || want+=(redis-server)
  command -v curl >/dev/null || want+=(curl)
  local flag
  for flag in "$@"; do
    case "$flag" in
      --browser) command -v chromium >/dev/null || want+=(chromium) ;;
      # promtool checks the alert rules in ops/ (Debian ships it in the prometheus package).
      --promtool) command -v promtool >/dev/null || want+=(prometheus) ;;
      # The integration examples the tests run: curl + jq, Node.js (18+, built-in fetch), Python 3.
      --examples)
        command -v jq >/dev/null || want+=(jq)
        command -v node >/dev/null || want+=(nodejs)
        # npm installs the pinned OpenAPI tools (tools/openapi) the OpenAPI tests run; they want Node.js 20.19+.
        command -v npm >/dev/null || want+=(npm)
        command -v python3 >/dev/null || want+=(python3) ;;
    esac
  done
  if [ ${#want[@]} -gt 0 ]; then
    log "Installing ${want[*]} from Debian's packages..."
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >&2
  fi
  if ! command -v dotnet >/dev/null; then
    log "The .NET 10 SDK is required (https://dot.net). Install it, then run this again."
    return 1
  fi
}

# Runs a PostgreSQL tool; they refuse to run as root, so as root they run as the postgres user.
pg_tool() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DIR PORT [extra server options]: initializes DIR/data once (superuser "app", trust on the socket only,
# scram-sha-256 on TCP), then starts the server if it is not running. DIR holds the socket and is mode 700, so no
# other local user reaches the trusted socket.
pg_start() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
  # The socket trusts "app" (the superuser): only the server's own user may reach it (and root).
  chmod 700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    pg_tool "$PG_BIN/initdb" -D "$dir/data" -U app -A trust --auth-host=scram-sha-256 --no-sync >/dev/null
  fi
  if pg_tool "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then return 0; fi
  # pg_ctl's own message only says to examine "the log output": name it.
  pg_tool "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $*" start >/dev/null ||
    { log "PostgreSQL did not start on port $port; see $dir/log"; return 1; }
}

# pg_port_of DIR: the port the PostgreSQL server of DIR/data runs on (empty when it does not run).
pg_port_of() {
  pg_tool "$PG_BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1 || return 0
  sed -n 4p "$1/data/postmaster.pid" 2>/dev/null || true
}

pg_stop() {
  local dir=$1
  pg_tool "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# psql as the superuser over the socket in DIR.
pg_psql() {
  local dir=$1 port=$2; shift 2
  pg_tool psql -h "$dir" -p "$port" -U app -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

# redis_is DIR PORT: the Redis answering on PORT is the one whose working directory is DIR (another Redis on the
# port, one that wants a password or refuses CONFIG, is not).
redis_is() {
  local want
  want=$(cd "$1" 2>/dev/null && pwd -P) || return 1
  [ "$(redis-cli -p "$2" config get dir 2>/dev/null | sed -n 2p)" = "$want" ]
}

# redis_start DIR PORT: starts a Redis with its files in DIR, or reuses the one of DIR already on PORT; refuses
# another Redis on PORT rather than sharing its data.
redis_start() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    redis_is "$dir" "$port" && return 0
    log "port $port: a Redis that is not the one of $dir answers there"; return 1
  fi
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "redis-server did not start; see $dir/redis.log"; return 1
}

# redis_stop PORT [DIR]: shuts down the Redis on PORT; given DIR, only when it is DIR's own.
redis_stop() {
  if [ -n "${2:-}" ] && ! redis_is "$2" "$1"; then
    if redis-cli -p "$1" ping >/dev/null 2>&1; then log "Redis on port $1 is not the one of $2: left running."; fi
    return 0
  fi
  redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true
}

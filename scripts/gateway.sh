# run.sh's process and secrets handling (sourced after lib.sh): one OS user and one secrets file per process,
# processes started without inherited environment, PID files so a later run can clean up after a crash.
# See docs/adr/0110-one-os-user-and-one-secrets-file-per-process.md and 0113-run-sh-supervises.md.

new_key() { head -c 32 /dev/urandom | base64; }
new_password() { head -c 24 /dev/urandom | base64 | tr -d '/+='; }

# secret_of FILE NAME: a value of a KEY=value file (empty when missing).
secret_of() { sed -n "s/^$2=//p" "$1" | head -n 1; }

# set_secret FILE NAME VALUE: replaces or adds NAME, keeping the file (its owner and mode).
set_secret() {
  local file=$1 name=$2 value=$3 rest
  rest=$(grep -v "^$name=" "$file" || true)
  { if [ -n "$rest" ]; then printf '%s\n' "$rest"; fi; printf '%s=%s\n' "$name" "$value"; } > "$file"
}

# add_secret FILE NAME GENERATOR: adds NAME once (secrets files grow as releases add keys).
add_secret() {
  if ! grep -q "^$2=" "$1"; then set_secret "$1" "$2" "$($3)"; fi
}

ensure_system_user() {
  id -u "$1" >/dev/null 2>&1 ||
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$1"
}

# ensure_secrets DATA HOST_USER VAULT_USER: DATA/secrets/host.env (the Host's), vault.env (the serving Vault's),
# vault-owner.env (the migration step's; stays with run.sh's user). The Host<->Vault service key is in both.
# A single secrets.env of an earlier release is split once and removed.
ensure_secrets() {
  local host_user=$2 vault_user=$3 s="$1/secrets" old="$1/secrets.env" k
  (
    umask 077
    touch "$s/host.env" "$s/vault.env" "$s/vault-owner.env"
    if [ -f "$old" ]; then
      for k in PAYMENTS_DB_PASSWORD VAULT_SERVICE_KEY AUTH_KEY_ENCRYPTION_KEY WEBHOOKS_SECRET_KEY IDEMPOTENCY_SECRET_KEY; do
        if grep -q "^$k=" "$old" && ! grep -q "^$k=" "$s/host.env"; then set_secret "$s/host.env" "$k" "$(secret_of "$old" "$k")"; fi
      done
      for k in VAULT_DB_PASSWORD VAULT_SERVICE_KEY VAULT_KEK_1 VAULT_KEK_2 VAULT_KEK_3; do
        if grep -q "^$k=" "$old" && ! grep -q "^$k=" "$s/vault.env"; then set_secret "$s/vault.env" "$k" "$(secret_of "$old" "$k")"; fi
      done
      if grep -q "^VAULT_OWNER_DB_PASSWORD=" "$old" && ! grep -q "^VAULT_OWNER_DB_PASSWORD=" "$s/vault-owner.env"; then
        set_secret "$s/vault-owner.env" VAULT_OWNER_DB_PASSWORD "$(secret_of "$old" VAULT_OWNER_DB_PASSWORD)"
      fi
      rm -f "$old"
      log "Split $old into secrets/host.env, vault.env and vault-owner.env (one per process)."
    fi
    add_secret "$s/host.env" PAYMENTS_DB_PASSWORD new_password
    if ! grep -q '^VAULT_SERVICE_KEY=' "$s/host.env"; then
      if grep -q '^VAULT_SERVICE_KEY=' "$s/vault.env"; then
        set_secret "$s/host.env" VAULT_SERVICE_KEY "$(secret_of "$s/vault.env" VAULT_SERVICE_KEY)"
      else
        set_secret "$s/host.env" VAULT_SERVICE_KEY "$(new_key)"
      fi
    fi
    add_secret "$s/host.env" AUTH_KEY_ENCRYPTION_KEY new_key
    add_secret "$s/host.env" WEBHOOKS_SECRET_KEY new_key
    add_secret "$s/host.env" IDEMPOTENCY_SECRET_KEY new_key
    if ! grep -q '^VAULT_SERVICE_KEY=' "$s/vault.env"; then
      set_secret "$s/vault.env" VAULT_SERVICE_KEY "$(secret_of "$s/host.env" VAULT_SERVICE_KEY)"
    fi
    add_secret "$s/vault.env" VAULT_DB_PASSWORD new_password
    # The Vault's key-encryption key, in three full-length components combined by XOR: no holder knows the key.
    # One file per custodian (kek/custodian-N.key), so no single file holds it; components an earlier release kept
    # in vault.env move there. Generated here they are the development default (the Vault says so in its log); in
    # production each custodian writes their own file (docs/crypto-architecture.md).
    mkdir -p "$s/kek"
    local n f
    for n in 1 2 3; do
      f="$s/kek/custodian-$n.key"
      if [ -s "$f" ]; then continue; fi
      if grep -q "^VAULT_KEK_$n=" "$s/vault.env"; then secret_of "$s/vault.env" "VAULT_KEK_$n" > "$f"; else new_key > "$f"; fi
      touch "$s/kek/generated-by-run-sh"
    done
    if grep -q '^VAULT_KEK_' "$s/vault.env"; then
      local rest; rest=$(grep -v '^VAULT_KEK_' "$s/vault.env" || true)
      printf '%s\n' "$rest" > "$s/vault.env"
    fi
    add_secret "$s/vault-owner.env" VAULT_OWNER_DB_PASSWORD new_password
  )
  chown "$host_user" "$s/host.env"
  chown "$vault_user" "$s/vault.env"
  chmod 600 "$s/host.env" "$s/vault.env" "$s/vault-owner.env"
  chown -R "$vault_user" "$s/kek"
  chmod 700 "$s/kek"
  chmod 600 "$s"/kek/*.key
}

# kek_files SECRETS: the Vault's settings naming each custodian's component file (never the components), and the
# development-default flag when run.sh generated them.
kek_files() {
  local i=0 f
  for f in "$1"/kek/custodian-*.key; do
    [ -f "$f" ] || continue
    echo "Vault__Kek__ComponentFiles__$i=$f"; i=$((i + 1))
  done
  if [ -f "$1/kek/generated-by-run-sh" ]; then echo "Vault__Kek__DevelopmentDefault=true"; fi
}

# rotate_service_key SECRETS rotate|finish. rotate: a new key for both; the Vault keeps accepting the previous one
# (VAULT_PREVIOUS_SERVICE_KEY, until VAULT_PREVIOUS_SERVICE_KEY_UNTIL: SERVICE_KEY_GRACE_HOURS, 24) so a Host still
# signing with it is not refused. finish: the Vault drops the previous key.
rotate_service_key() {
  local s=$1 action=$2 current
  case "$action" in
    rotate)
      current=$(secret_of "$s/vault.env" VAULT_SERVICE_KEY)
      local next; next=$(new_key)
      set_secret "$s/vault.env" VAULT_PREVIOUS_SERVICE_KEY "$current"
      # The Vault requires an end to the grace period (Vault:PreviousServiceKeyUntil); 24 h unless told.
      set_secret "$s/vault.env" VAULT_PREVIOUS_SERVICE_KEY_UNTIL \
        "$(date -u -d "+${SERVICE_KEY_GRACE_HOURS:-24} hours" +%Y-%m-%dT%H:%M:%SZ)"
      set_secret "$s/vault.env" VAULT_SERVICE_KEY "$next"
      set_secret "$s/host.env" VAULT_SERVICE_KEY "$next" ;;
    finish)
      local rest; rest=$(grep -v '^VAULT_PREVIOUS_SERVICE_KEY' "$s/vault.env" || true)
      printf '%s\n' "$rest" > "$s/vault.env" ;;
    *) log "usage: ./run.sh service-key rotate|finish"; return 2 ;;
  esac
}

# build_dir PROJECT USER: where USER runs PROJECT from. Not root: the build output itself. Root: a root-owned,
# world-readable copy (the process user cannot change its own code) in DATA/app when USER can reach it, else under
# /var/lib/payments (the clone may sit in a private home directory).
build_dir() {
  local project=$1 user=$2
  if [ "$(id -u)" != 0 ]; then echo "$root/artifacts/bin/$project/release"; return 0; fi
  if id -u "$user" >/dev/null 2>&1 && setpriv --reuid="$user" --regid="$user" --clear-groups -- test -x "$data"; then
    echo "$data/app/$project"
  else
    echo "/var/lib/payments/$(printf '%s' "$data" | sha256sum | cut -c1-12)/$project"
  fi
}

# install_build PROJECT USER REFRESH: build_dir, with the build copied there as root; REFRESH non-empty: copy again.
install_build() {
  local project=$1 user=$2 refresh=$3 src base dest
  src="$root/artifacts/bin/$project/release"
  dest=$(build_dir "$project" "$user")
  if [ "$dest" = "$src" ]; then echo "$src"; return 0; fi
  base=$(dirname "$dest")
  if [ -n "$refresh" ] || [ ! -f "$dest/$project.dll" ]; then
    if [ ! -f "$src/$project.dll" ]; then log "$src/$project.dll is missing: build first (run without NO_BUILD)"; return 1; fi
    mkdir -p "$base"; chmod 755 "$base" "$(dirname "$base")"
    rm -rf "$dest.new"; cp -r "$src" "$dest.new"
    chown -R root:root "$dest.new"; chmod -R u=rwX,go=rX "$dest.new"
    rm -rf "$dest"; mv "$dest.new" "$dest"
  fi
  echo "$dest"
}

# launch USER DIR HOME DLL [ARGS]: replaces the current shell with `dotnet DIR/DLL ARGS` run as USER in DIR, with a
# clean environment: only PATH, HOME and the KEY=value lines read from file descriptor 3 (never a command line,
# which every local user can read in /proc). The process gets SIGTERM when its parent (run.sh) dies. The DLL's full
# path on the command line is what tells this checkout's processes from any other gateway's (runs_dll).
launch() {
  local user=$1 dir=$2 home=$3 dll=$4; shift 4
  local ids=() dotnet_bin
  dotnet_bin=$(readlink -f "$(command -v dotnet)")
  if [ "$(id -u)" = 0 ]; then ids=(--reuid="$user" --regid="$user" --clear-groups); fi
  cd "$dir"
  exec setpriv "${ids[@]}" --pdeathsig TERM -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" LANG=C.UTF-8 \
    DOTNET_ROOT="$(dirname "$dotnet_bin")" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
    bash -c 'while IFS= read -r line <&3; do if [ -n "$line" ]; then export "$line"; fi; done; exec 3<&-; exec "$0" "$@"' \
    "$dotnet_bin" "$dir/$dll" "$@"
}

# runs_dll PID PATH: PID is alive and one of its arguments is PATH, the full path of a DLL this checkout (as root:
# this data directory) launched. Every gateway on the machine runs "dotnet Payments.Host.dll"; only ours has our
# path, so neither a recycled PID nor another checkout's process matches. True from launch's exec on (setpriv, env
# and bash -c carry the path too).
runs_dll() {
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "$2"
}

# runs_script PID: PID is a run.sh of this checkout (a bash running run.sh from this directory).
runs_script() {
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && [ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$(cd "$root" && pwd -P)" ] &&
    tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | grep -q '\(^\|/\)run\.sh$'
}

# is_ours NAME PID: PID is this checkout's run.sh, Host or Vault (NAME: run.sh, host, vault).
is_ours() {
  case "$1" in
    run.sh) runs_script "$2" ;;
    host) runs_dll "$2" "$host_dir/Payments.Host.dll" ;;
    vault) runs_dll "$2" "$vault_dir/Payments.Vault.dll" ;;
    *) return 1 ;;
  esac
}

# stop_recorded RUNDIR: stops what a previous run.sh recorded: its supervisor (which stops its children), then any
# Host or Vault left behind by a supervisor that died (SIGKILL), so the ports are free again. A PID that is not
# ours (is_ours) is left alone: the file is stale.
stop_recorded() {
  local dir=$1 name pid
  for name in run.sh vault host; do
    [ -f "$dir/$name.pid" ] || continue
    pid=$(cat "$dir/$name.pid")
    if is_ours "$name" "$pid"; then
      log "Stopping the $name left running (pid $pid)."
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 150); do is_ours "$name" "$pid" || break; sleep 0.1; done
      if is_ours "$name" "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$dir/$name.pid"
  done
}

# port_listeners PORT: "UID INODE" of each socket listening on TCP PORT, any address (read from /proc: no ss needed).
port_listeners() {
  awk -v p=":$(printf '%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { print $8, $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# listens_on PID PORT: the socket listening on PORT is PID's. PID's descriptors when we may read them; else (a
# non-dumpable Vault of our own user) the socket belongs to PID's user.
listens_on() {
  local pid=$1 port=$2 uid inode fds
  read -r uid inode < <(port_listeners "$port") || return 1
  fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || true
  if [ -n "$fds" ]; then
    grep -qF "socket:[$inode]" <<<"$fds"
  else
    [ "$uid" = "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" ]
  fi
}

# running PID: alive and not a zombie (a child that exited stays one until run.sh waits for it).
running() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]; }

# wait_ready PORT PATH PID: until http://127.0.0.1:PORT/PATH answers 2xx from PID's own socket (60 s), or PID has
# exited. Another program answering on the port is not our process being ready.
wait_ready() {
  local port=$1 path=$2 pid=$3
  for _ in $(seq 1 120); do
    running "$pid" || return 1
    if curl -fsS "http://127.0.0.1:$port$path" >/dev/null 2>&1 && running "$pid" && listens_on "$pid" "$port"; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}

# log_size FILE: its size in bytes (0 when missing), so last_errors reads only what a start wrote.
log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# last_errors FILE OFFSET: the last error lines written after OFFSET, so the operator sees why a process stopped
# without opening the log: the message of an Error or Critical JSON line, or a plain line such as .NET's
# "Unhandled exception." (not its stack frames).
last_errors() {
  tail -c +$(($2 + 1)) "$1" 2>/dev/null |
    grep -E '"level":"(Error|Critical)"|^[^{[:space:]-]' |
    tail -n 3 |
    sed -E 's/^\{.*"message":"(([^"\\]|\\.)*)".*$/\1/; s/^/  /' || true
}

# env_lines NAME...: NAME=value for each NAME set in run.sh's environment, for a process' file descriptor 3. A value
# with a line break would add a line of its own: refused.
env_lines() {
  local name
  for name in "$@"; do
    [ -n "${!name+set}" ] || continue
    case "${!name}" in
      *$'\n'*|*$'\r'*) log "$name holds a line break: not passed on." ;;
      *) printf '%s=%s\n' "$name" "${!name}" ;;
    esac
  done
}

# telemetry_env: the telemetry settings of run.sh's environment, for both processes (README, docs/adr/0120): the
# OpenTelemetry SDK's OTEL_* variables and the Telemetry section. Nothing else of run.sh's environment is passed on.
telemetry_env() {
  # shellcheck disable=SC2046 # names only: letters, digits and underscores
  env_lines $(compgen -e | grep -E '^(OTEL_[A-Z0-9_]+|Telemetry__[A-Za-z0-9_]+)$' || true)
}

# port_in_use PORT: something listens on TCP PORT.
port_in_use() { [ -n "$(port_listeners "$1")" ]; }

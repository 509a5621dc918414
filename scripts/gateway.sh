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

# install_build PROJECT USER REFRESH: where USER runs PROJECT from. Not root: the build output itself. Root: a
# root-owned, world-readable copy (the process user cannot change its own code) in DATA/app when USER can reach
# it, else under /var/lib/payments (the clone may sit in a private home directory). REFRESH non-empty: copy again.
install_build() {
  local project=$1 user=$2 refresh=$3 src base dest
  src="$root/artifacts/bin/$project/release"
  if [ "$(id -u)" != 0 ]; then echo "$src"; return 0; fi
  if setpriv --reuid="$user" --regid="$user" --clear-groups -- test -x "$data"; then
    base="$data/app"
  else
    base="/var/lib/payments/$(printf '%s' "$data" | sha256sum | cut -c1-12)"
  fi
  dest="$base/$project"
  if [ -n "$refresh" ] || [ ! -f "$dest/$project.dll" ]; then
    if [ ! -f "$src/$project.dll" ]; then log "$src/$project.dll is missing: build first (run without NO_BUILD)"; return 1; fi
    mkdir -p "$base"; chmod 755 "$base" "$(dirname "$base")"
    rm -rf "$dest.new"; cp -r "$src" "$dest.new"
    chown -R root:root "$dest.new"; chmod -R u=rwX,go=rX "$dest.new"
    rm -rf "$dest"; mv "$dest.new" "$dest"
  fi
  echo "$dest"
}

# launch USER DIR HOME DLL [ARGS]: replaces the current shell with `dotnet DLL ARGS` run as USER in DIR, with a
# clean environment: only PATH, HOME and the KEY=value lines read from file descriptor 3 (never a command line,
# which every local user can read in /proc). The process gets SIGTERM when its parent (run.sh) dies.
launch() {
  local user=$1 dir=$2 home=$3; shift 3
  local ids=() dotnet_bin
  dotnet_bin=$(readlink -f "$(command -v dotnet)")
  if [ "$(id -u)" = 0 ]; then ids=(--reuid="$user" --regid="$user" --clear-groups); fi
  cd "$dir"
  exec setpriv "${ids[@]}" --pdeathsig TERM -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" LANG=C.UTF-8 \
    DOTNET_ROOT="$(dirname "$dotnet_bin")" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
    bash -c 'while IFS= read -r line <&3; do if [ -n "$line" ]; then export "$line"; fi; done; exec 3<&-; exec "$0" "$@"' \
    "$dotnet_bin" "$@"
}

# proc_runs PID TEXT: PID is alive and its command line contains TEXT (a PID file may name a recycled PID).
proc_runs() {
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "$2"
}

# stop_recorded RUNDIR: stops what a previous run.sh recorded: its supervisor (which stops its children), then any
# Host or Vault left behind by a supervisor that died (SIGKILL), so the ports are free again.
stop_recorded() {
  local dir=$1 name pid text
  for name in run.sh vault host; do
    [ -f "$dir/$name.pid" ] || continue
    pid=$(cat "$dir/$name.pid")
    case "$name" in run.sh) text=run.sh ;; vault) text=Payments.Vault.dll ;; host) text=Payments.Host.dll ;; esac
    if proc_runs "$pid" "$text"; then
      log "Stopping the $name left running (pid $pid)."
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 150); do proc_runs "$pid" "$text" || break; sleep 0.1; done
      if proc_runs "$pid" "$text"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$dir/$name.pid"
  done
}

# running PID: alive and not a zombie (a child that exited stays one until run.sh waits for it).
running() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]; }

# wait_ready URL PID: until URL answers 2xx (60 s), or PID has exited.
wait_ready() {
  local url=$1 pid=$2
  for _ in $(seq 1 120); do
    running "$pid" || return 1   # first: another process may answer on the port
    if curl -fsS "$url" >/dev/null 2>&1 && running "$pid"; then return 0; fi
    sleep 0.5
  done
  return 1
}

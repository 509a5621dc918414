#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts throwaway PostgreSQL and Redis, builds, runs every
# test project, and ends with one line of totals: "N passed, M failed, K skipped".
set -uo pipefail
cd "$(dirname "$0")"
. scripts/lib.sh

ensure_packages --browser --examples --promtool || exit 1

work=$(mktemp -d /tmp/payments-test.XXXXXX)
chmod 755 "$work"
pg_port=$(( 20000 + RANDOM % 20000 )); redis_port=$(( pg_port + 1 ))
cleanup() { pg_stop "$work/pg"; redis_stop "$redis_port"; rm -rf "$work"; }
trap cleanup EXIT

# Functional tests do not need durability; the load suite keeps fsync on for its figures.
pg_start "$work/pg" "$pg_port" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500 \
  || { log "PostgreSQL did not start"; echo "0 passed, 1 failed"; exit 1; }
redis_start "$work/redis" "$redis_port" || { echo "0 passed, 1 failed"; exit 1; }
export PAYMENTS_TEST_PG="Host=127.0.0.1;Port=$pg_port;Username=app;Password=app;Database=postgres"
pg_psql "$work/pg" "$pg_port" -c "ALTER ROLE app PASSWORD 'app'"
export PAYMENTS_TEST_REDIS="127.0.0.1:$redis_port"

if ! dotnet build Payments.Modular.sln -c Release -nologo -clp:ErrorsOnly; then
  log "Build failed."
  echo "0 passed, 1 failed"
  exit 1
fi

# What the tests leave in the temp directory (throwaway servers' directories, audit anchors, generated code) goes with
# the run. Sticky and world-writable like /tmp: tests start processes as other users.
mkdir -p "$work/tmp" && chmod 1777 "$work/tmp"
export TMPDIR="$work/tmp"

results="$work/results"
passed=0; failed=0; skipped=0
for project in $(find tests perf -name '*Tests.csproj' 2>/dev/null | sort); do
  name=$(basename "$project" .csproj)
  log "== $name"
  # A test that hangs ends the project's run after 10 minutes, as a failure naming the test, instead of holding the
  # whole command (no test comes near that).
  dotnet test "$project" -c Release --no-build --nologo --blame-hang-timeout 10m --blame-hang-dump-type none \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" --results-directory "$results"
  code=$?
  trx="$results/$name.trx"
  if [ -f "$trx" ]; then
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
    get() { printf '%s' "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
    p=$(get passed); f=$(get failed); e=$(get error); t=$(get timeout); ab=$(get aborted); ne=$(get notExecuted)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0} + ${ab:-0})); skipped=$((skipped + ${ne:-0}))
    if [ "$code" -ne 0 ] && [ "${f:-0}" = 0 ] && [ "${e:-0}" = 0 ]; then failed=$((failed + 1)); log "$name: test host failed"; fi
  else
    log "$name: no results (test host crashed?)"
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

#!/usr/bin/env bash
# The load suite, in one command: installs what is missing (PostgreSQL 15 with pgbench, Redis), builds the solution
# in Release, starts its own gateway (PostgreSQL with fsync on, Redis, the Vault, the Host) on free loopback ports,
# measures, checks the invariants and writes perf/reports/<UTC time>/summary.md and report.html.
#
#   ./perf/run.sh                  the full run (about 10 minutes, a million rows seeded for the list route)
#   ./perf/run.sh --smoke          about ten seconds of load, as CI runs it
#   ./perf/run.sh --only pair,list --duration 30 --clients 32 --hosts 2 --list-rows 200000
#
# Exit code: 0 when the run completed and the invariants hold; figures are judged by reading the report.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages
if ! command -v pgbench >/dev/null; then
  log "Installing postgresql-contrib (pgbench) from Debian's packages..."
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-contrib >&2
fi

if [ -z "${NO_BUILD:-}" ]; then
  dotnet build Payments.Modular.sln -c Release -nologo -clp:ErrorsOnly -v:q >&2
fi
exec dotnet artifacts/bin/Payments.Perf/release/Payments.Perf.dll "$@"

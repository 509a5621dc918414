#!/usr/bin/env bash
# Issue 17 How 3 / ADR 36: what a cross-request group commit of the authorize's change would save PostgreSQL,
# measured on the floor before any .NET work. A is the floor's authorize (Ceilings.GatewayPair's first half: the
# claim, its own asynchronous commit, then the payment, its history, its event and the stored answer in one pipelined
# transaction). B is G such requests: the G claims as before, then the G changes written set-based (one statement per
# table over G rows, the answers stored by one statement calling idempotency.complete per row) in one transaction.
# Prints requests per second. Needs psql and pgbench; run the server with fsync on, as in production.
# usage: group-commit.sh "host=127.0.0.1 port=5432 user=app password=… dbname=empty_scratch" [rounds] [seconds] [G...]
set -euo pipefail
conn=$1; rounds=${2:-3}; seconds=${3:-10}; shift $(( $# < 3 ? $# : 3 )); groups=("${@:-8}")
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../.." && pwd); work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A is read from the source, so it stays the floor's authorize: everything up to its first \endpipeline.
python3 - "$repo/perf/Payments.Perf/Reference/Ceilings.cs" "$work" <<'PY'
import sys
src, work = sys.argv[1], sys.argv[2]
s = open(src).read()
i = s.index('private const string GatewayPair = """') + len('private const string GatewayPair = """')
pair = '\n'.join(l[8:] for l in s[i:s.index('""";', i)].strip('\n').split('\n'))
a = pair[:pair.index('\\endpipeline') + len('\\endpipeline')] + '\n'
open(f'{work}/A.sql', 'w').write(a)
open(f'{work}/claim.sql', 'w').write(a[a.index('WITH async_commit'):a.index('RETURNING 1;') + len('RETURNING 1;')] + '\n')
PY
claim() { sed "s/'a' || :r/$1/g" "$work/claim.sql"; } # $1: the key's expression

for g in "${groups[@]}"; do
  {
    echo '\set amt random(1000, 100000)'
    echo '\set mer random(1, 4)'
    echo '\set r random(1, 9000000000000000000)'
    for i in $(seq 1 "$g"); do claim "'a' || :r || '_$i'"; done
    cat <<SQL
\startpipeline
BEGIN;
INSERT INTO transactions.transactions (trx_id, merchant_id, type, order_amount, currency, captured_amount, order_id, external_id, payment_intent_id,
                                       card_token, card_brand, card_last4, authorization_code, decline_code, authorization_expires_at, created_at, updated_at)
SELECT 'trx_' || :r || '_' || g, 'mer_floor' || :mer, 'PAYMENT', :amt, 'USD', 0, 'order-' || :client_id, NULL, NULL,
       'tok_floor', 'visa', '4242', '123456', NULL, now() + interval '7 days', now(), now() FROM generate_series(1, $g) g;
INSERT INTO transactions.history (trx_id, seq, operation, amount, status, at, prev_hash, hash)
SELECT 'trx_' || :r || '_' || g, 1, 'AUTHORIZE', :amt, 'AUTHORIZED', now(), repeat('0', 64), encode(sha256(('trx_' || :r || g)::bytea), 'hex')
  FROM generate_series(1, $g) g;
INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at)
SELECT 'evt_a' || :r || '_' || g, 'mer_floor' || :mer, 'transaction.authorized', jsonb_build_object('state', repeat('x', 600)), now()
  FROM generate_series(1, $g) g ORDER BY g;
SELECT idempotency.complete('mer_floor' || :mer, 'a' || :r || '_' || g, '00000000-0000-0000-0000-000000000001', 201, '{"ETag":"\"1\""}', convert_to(repeat('x', 700), 'UTF8'), now())
  FROM generate_series(1, $g) g;
END;
\endpipeline
SQL
  } > "$work/B$g.sql"
  # C: the same G requests, each change's statements as in A, one after another in one transaction.
  {
    echo '\set amt random(1000, 100000)'
    echo '\set mer random(1, 4)'
    echo '\set r random(1, 9000000000000000000)'
    for i in $(seq 1 "$g"); do claim "'a' || :r || '_$i'"; done
    echo '\startpipeline'
    echo 'BEGIN;'
    for i in $(seq 1 "$g"); do
      sed -n '/^INSERT INTO transactions.transactions/,/^SELECT idempotency.complete/p' "$work/A.sql" | sed "s/:r\b/:r || '_$i'/g"
    done
    echo 'END;'
    echo '\endpipeline'
  } > "$work/C$g.sql"
done

psql "$conn" -q -v ON_ERROR_STOP=1 -c "CREATE SCHEMA idempotency; CREATE SCHEMA transactions;"
for f in "$repo"/BuildingBlocks/Payments.BuildingBlocks/Idempotency/Data/Migrations/*.sql \
         "$repo"/Modules/Transactions/Transactions/Data/Migrations/*.sql; do
  psql "$conn" -q -v ON_ERROR_STOP=1 -f "$f"
done
for i in $(seq 1 "$rounds"); do
  tps=$(pgbench "$conn" -n -M prepared -c 16 -j 2 -T "$seconds" -f "$work/A.sql" 2>&1 | grep -oP 'tps = \K[0-9.]+(?= \(without)')
  echo "round $i  A (one per transaction)  $tps requests/s"
  for g in "${groups[@]}"; do
    tps=$(pgbench "$conn" -n -M prepared -c $(( 16 / g > 1 ? 16 / g : 2 )) -j 2 -T "$seconds" -f "$work/B$g.sql" 2>&1 | grep -oP 'tps = \K[0-9.]+(?= \(without)')
    echo "round $i  B (G=$g per transaction, set-based)  $(python3 -c "print(round($tps * $g))") requests/s"
    tps=$(pgbench "$conn" -n -M prepared -c $(( 16 / g > 1 ? 16 / g : 2 )) -j 2 -T "$seconds" -f "$work/C$g.sql" 2>&1 | grep -oP 'tps = \K[0-9.]+(?= \(without)')
    echo "round $i  C (G=$g per transaction, statement by statement)  $(python3 -c "print(round($tps * $g))") requests/s"
  done
done

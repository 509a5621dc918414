#!/usr/bin/env bash
# Issue 17 / ADR 35: what Wolverine's durable local queues would cost the write path, measured on the floor.
# A is the floor's pair (Ceilings.GatewayPair, read from the source); B replaces each outbox row with the two
# envelopes Wolverine would store in the change's transaction (one per subscribing module); C also deletes them after
# handling, one statement per change. Migrates an empty scratch database with the real idempotency and Transactions
# migrations plus Wolverine's incoming-envelope table (as WolverineFx.Postgresql creates it), then runs pgbench on
# A, B and C in turn. Needs psql, pgbench and python3; the server should run with fsync on, as in production.
# usage: durable-outbox.sh "host=127.0.0.1 port=5432 user=app password=… dbname=empty_scratch" [rounds] [seconds]
set -euo pipefail
conn=$1; rounds=${2:-6}; seconds=${3:-10}
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../.." && pwd); work=$(mktemp -d)
python3 - "$repo/perf/Payments.Perf/Reference/Ceilings.cs" "$work" <<'PY'
import sys
src, work = sys.argv[1], sys.argv[2]
s = open(src).read()
i = s.index('private const string GatewayPair = """') + len('private const string GatewayPair = """')
a = '\n'.join(l[8:] for l in s[i:s.index('""";', i)].strip('\n').split('\n')) + '\n'
def envelopes(tag):
    return '\n'.join(
        "INSERT INTO wolverine.wolverine_incoming_envelopes (id, status, owner_id, body, message_type, received_at)\n"
        f"VALUES (md5('{tag}{m}' || :r)::uuid, 'Incoming', 1, convert_to(repeat('x', 800), 'UTF8'), "
        f"'Payments.Transactions.Contracts.TransactionEvent', 'local://{m}/');" for m in ('intents', 'webhooks'))
out, tags, skip = [], iter('ac'), False
for line in a.split('\n'):
    if skip:
        skip = False
    elif line.startswith('INSERT INTO transactions.outbox'):
        out.append(envelopes(next(tags))); skip = True
    else:
        out.append(line)
b = '\n'.join(out)
drop = lambda t: f"DELETE FROM wolverine.wolverine_incoming_envelopes WHERE id IN (md5('{t}intents' || :r)::uuid, md5('{t}webhooks' || :r)::uuid);"
c = b.replace('\\endpipeline\nWITH', '\\endpipeline\n' + drop('a') + '\nWITH', 1).rstrip('\n') + '\n' + drop('c') + '\n'
for name, text in (('A', a), ('B', b), ('C', c)):
    open(f'{work}/{name}.sql', 'w').write(text)
PY
psql "$conn" -q -v ON_ERROR_STOP=1 -c "CREATE SCHEMA idempotency; CREATE SCHEMA transactions;"
for f in "$repo"/BuildingBlocks/Payments.BuildingBlocks/Idempotency/Data/Migrations/*.sql \
         "$repo"/Modules/Transactions/Transactions/Data/Migrations/*.sql; do
  psql "$conn" -q -v ON_ERROR_STOP=1 -f "$f"
done
psql "$conn" -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE SCHEMA wolverine;
CREATE TABLE wolverine.wolverine_incoming_envelopes (
    id uuid PRIMARY KEY, status varchar NOT NULL, owner_id int NOT NULL, execution_time timestamptz DEFAULT NULL,
    attempts int DEFAULT 0, body bytea NOT NULL, message_type varchar NOT NULL, received_at varchar, keep_until timestamptz);
CREATE INDEX idx_wolverine_incoming_envelopes_owner ON wolverine.wolverine_incoming_envelopes (owner_id) WHERE owner_id <> 0;
SQL
for i in $(seq 1 "$rounds"); do
  for s in A B C; do
    tps=$(pgbench "$conn" -n -M prepared -c 16 -j 2 -T "$seconds" -f "$work/$s.sql" 2>&1 | grep -oP 'tps = \K[0-9.]+(?= \(without)')
    echo "round $i  $s  $tps pairs/s"
  done
done
rm -rf "$work"

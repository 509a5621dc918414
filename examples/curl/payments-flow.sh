#!/usr/bin/env bash
# The integration guide's whole flow with curl and jq:
# token -> tokenization intent -> card to the Vault -> authorize -> capture -> refund -> list.
# Environment: PAYMENTS_API_URL (default http://127.0.0.1:5080), PAYMENTS_CLIENT_ID, PAYMENTS_CLIENT_SECRET,
# optional PAYMENTS_VAULT_URL (default: the origin of card_entry_url). Exits non-zero on any failure.
set -euo pipefail

API=${PAYMENTS_API_URL:-http://127.0.0.1:5080}; API=${API%/}
: "${PAYMENTS_CLIENT_ID:?set PAYMENTS_CLIENT_ID (from ./run.sh merchant create)}"
: "${PAYMENTS_CLIENT_SECRET:?set PAYMENTS_CLIENT_SECRET (from ./run.sh merchant create)}"
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "FAILED: $tool is required" >&2; exit 2; }
done

TOKEN=""
headers_file=$(mktemp); trap 'rm -f "$headers_file"' EXIT
new_key() { cat /proc/sys/kernel/random/uuid 2>/dev/null || od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# call METHOD URL [JSON]: prints the answer's body; on a non-2xx answer prints the problem and exits 1.
# Every POST to the merchant API carries a fresh Idempotency-Key; to retry a call, resend the SAME key.
call() {
  local method=$1 url=$2 body=${3:-}
  local args=(-sS -X "$method" -H "Accept: application/json" -w '\n%{http_code}')
  if [ -n "$TOKEN" ] && [[ $url == "$API"/* ]]; then args+=(-H "Authorization: Bearer $TOKEN"); fi
  if [ "$method" = POST ] && [[ $url == "$API"/v1/* ]] && [[ $url != */auth/* ]]; then
    args+=(-H "Idempotency-Key: $(new_key)")
  fi
  if [ -n "$body" ]; then args+=(-H "Content-Type: application/json" --data-binary "$body"); fi
  local out status attempt wait
  # Retried, with the SAME key, after Retry-After plus jitter, at most 4 times: 429 rate_limited and 503 overloaded
  # (nothing was changed), and a 409 that carries Retry-After (a conflict for now, e.g. a payment intent another
  # request is confirming); any other 409 is final. Never retried: a card submission to the Vault (make a new
  # tokenization intent instead), and a 429 from the token route, which limits failed logins for minutes.
  local retry=1
  if [[ $url == */v1/tokenization-intents/*/card ]]; then retry=0; fi
  for attempt in 0 1 2 3 4; do
    out=$(curl -D "$headers_file" "${args[@]}" "$url") || { echo "FAILED: $method $url: no answer" >&2; exit 1; }
    status=${out##*$'\n'}; out=${out%$'\n'*}
    wait=$(tr -d '\r' <"$headers_file" | awk -F': *' 'tolower($1)=="retry-after"{print $2}')
    if [ "$retry" = 1 ] && [ "$attempt" -lt 4 ] && { { [ "$status" = 429 ] && [[ $url != */v1/auth/token ]]; } ||
        [ "$status" = 503 ] || { [ "$status" = 409 ] && [ -n "$wait" ]; }; }; then
      sleep "${wait:-1}.$((RANDOM % 10))"
      continue
    fi
    break
  done
  if [ "$status" -lt 200 ] || [ "$status" -ge 300 ]; then
    echo "FAILED: $method $url -> HTTP $status $(jq -r '"\(.code // "") \(.detail // "") (request \(.request_id // "?"))"' <<<"$out" 2>/dev/null || echo "$out")" >&2
    if [ "$status" = 429 ] && [[ $url == */v1/auth/token ]]; then
      echo "The token route refuses this client id after too many failed logins; not retrying. Check PAYMENTS_CLIENT_SECRET, then try again after Retry-After: ${wait:-?} s." >&2
    fi
    exit 1
  fi
  printf '%s' "$out"
}
expect() { if ! eval "$1"; then echo "FAILED: $2" >&2; exit 1; fi; }

order_id="example-curl-$(new_key | tr -d - | cut -c1-12)"

# 1. Token from the client credentials.
resp=$(call POST "$API/v1/auth/token" "$(jq -n --arg id "$PAYMENTS_CLIENT_ID" --arg s "$PAYMENTS_CLIENT_SECRET" '{client_id:$id, client_secret:$s}')")
TOKEN=$(jq -r .access_token <<<"$resp")
echo "1. token: $(jq -r .token_type <<<"$resp"), expires in $(jq -r .expires_in <<<"$resp") s"

# 2. A tokenization intent; card_entry_url is the Vault's page for the cardholder.
resp=$(call POST "$API/v1/tokenization-intents" '{}')
intent_id=$(jq -r .id <<<"$resp"); client_secret=$(jq -r .client_secret <<<"$resp"); entry_url=$(jq -r .card_entry_url <<<"$resp")
echo "2. tokenization intent $intent_id: $(jq -r .status <<<"$resp"), card entry page $entry_url"

# 3. The sandbox test card straight to the Vault, as a PCI-scoped server would. Never to the merchant API.
vault=${PAYMENTS_VAULT_URL:-$(sed -E 's#^(https?://[^/]+).*#\1#' <<<"$entry_url")}; vault=${vault%/}
exp_year=$(( $(date -u +%Y) + 2 ))
call POST "$vault/v1/tokenization-intents/$intent_id/card" "$(jq -n --arg cs "$client_secret" --argjson y "$exp_year" \
  '{client_secret:$cs, number:"4242424242424242", exp_month:12, exp_year:$y, cvc:"123", holder_name:"Ada Lovelace"}')" >/dev/null
resp=$(call GET "$API/v1/tokenization-intents/$intent_id")
card_token=$(jq -r '.card_token // empty' <<<"$resp")
expect '[ "$(jq -r .status <<<"$resp")" = SUCCEEDED ] && [ -n "$card_token" ]' "intent is $(jq -r .status <<<"$resp"), expected SUCCEEDED"
echo "3. card posted to the Vault: SUCCEEDED, card token $card_token ($(jq -r '"\(.card.brand) •••• \(.card.last4)"' <<<"$resp"))"

# 4. Authorize 10.50 USD on the token.
resp=$(call POST "$API/v1/transactions" "$(jq -n --arg tok "$card_token" --arg o "$order_id" \
  '{operation:"authorize", amount:1050, currency:"USD", card_token:$tok, order_id:$o, external_id:($o + "-ext")}')")
trx_id=$(jq -r .trx_id <<<"$resp")
expect '[ "$(jq -r .status <<<"$resp")" = AUTHORIZED ]' "authorize answered $(jq -r '"\(.status) \(.decline_code)"' <<<"$resp")"
echo "4. authorize 1050 USD: $trx_id AUTHORIZED (authorization code $(jq -r .authorization_code <<<"$resp"))"

# 5. Capture all of it (add "amount" for a partial capture).
resp=$(call POST "$API/v1/transactions/$trx_id" '{"operation":"capture"}')
expect '[ "$(jq -r .status <<<"$resp")" = CAPTURED ] && [ "$(jq -r .captured_amount <<<"$resp")" = 1050 ]' "capture answered $(jq -r .status <<<"$resp")"
echo "5. capture: CAPTURED, captured $(jq -r .captured_amount <<<"$resp")"

# 6. Refund 3.00: a new REFUND transaction.
if [ "${PAYMENTS_SKIP_REFUND:-}" = 1 ]; then
  echo "6. refund: SKIPPED (PAYMENTS_SKIP_REFUND=1: this gateway has no refunds route yet)"
else
  refund=$(call POST "$API/v1/transactions/$trx_id/refunds" '{"amount":300,"reason":"customer returned an item"}')
  resp=$(call GET "$API/v1/transactions/$trx_id")
  expect '[ "$(jq -r .type <<<"$refund")" = REFUND ] && [ "$(jq -r .refunded_amount <<<"$resp")" = 300 ]' "refund did not show on the payment"
  echo "6. refund 300: $(jq -r '"\(.trx_id) \(.type) \(.status)"' <<<"$refund"); payment refunded_amount $(jq -r .refunded_amount <<<"$resp")"
fi

# 7. Today's transactions, newest first (the end date is exclusive, so: tomorrow).
today=$(date -u +%d/%m/%Y)
tomorrow=$(date -u -d tomorrow +%d/%m/%Y 2>/dev/null || date -u -v+1d +%d/%m/%Y)
resp=$(call GET "$API/v1/transactions?start_date=${today//\//%2F}&end_date=${tomorrow//\//%2F}&sort_by=created_at&sort_direction=DESC&limit=100")
expect 'jq -e --arg id "$trx_id" "any(.data[]; .trx_id == \$id)" <<<"$resp" >/dev/null' "the payment is not in today's list"
echo "7. list: $(jq -r .total <<<"$resp") transaction(s) today, as_of $(jq -r .as_of <<<"$resp"); $trx_id is listed"

echo "DONE trx_id=$trx_id"

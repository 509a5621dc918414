#!/usr/bin/env python3
"""The integration guide's whole flow with Python 3.8+ and its standard library only:
token -> tokenization intent -> card to the Vault -> authorize -> capture -> refund -> list.

Environment: PAYMENTS_API_URL (default http://127.0.0.1:5080), PAYMENTS_CLIENT_ID, PAYMENTS_CLIENT_SECRET,
optional PAYMENTS_VAULT_URL (default: the origin of card_entry_url). Exits non-zero on any failure.
"""
import datetime
import json
import os
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

API = os.environ.get("PAYMENTS_API_URL", "http://127.0.0.1:5080").rstrip("/")
CLIENT_ID = os.environ.get("PAYMENTS_CLIENT_ID")
CLIENT_SECRET = os.environ.get("PAYMENTS_CLIENT_SECRET")
token = None


class ApiError(Exception):
    def __init__(self, status, problem, hint=None):
        super().__init__(f"HTTP {status} {problem.get('code', '')}: {problem.get('detail', '')} "
                         f"(request {problem.get('request_id', '?')})" + (f"\n{hint}" if hint else ""))
        self.status, self.problem = status, problem


def call(method, url, body=None, idempotency_key=None, auth=True, retry=True, token_route=False):
    """One call to the gateway. POSTs that create or move money carry an Idempotency-Key: to retry one
    safely (timeout, 5xx), send the same body again with the SAME key. Retried here, same key, after Retry-After
    plus jitter, at most 4 times: 429 rate_limited and 503 overloaded (nothing was changed), and a 409 that
    carries Retry-After (a conflict for now, e.g. a payment intent another request is confirming); any other 409
    is final. retry=False for a card submission to the Vault, never repeated automatically (make a new intent);
    token_route=True for the token route, whose 429 (too many failed logins) lasts minutes: reported, not awaited."""
    headers = {"Accept": "application/json"}
    if auth and token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    for attempt in range(5):
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            retry_after = e.headers.get("Retry-After")
            for_now = (e.code == 429 and not token_route) or e.code == 503 or (e.code == 409 and retry_after is not None)
            if retry and for_now and attempt < 4:
                time.sleep((int(retry_after) if (retry_after or "").isdigit() else 2 ** attempt) + random.random() / 4)
                continue
            try:
                problem = json.loads(text) if text else {}
            except ValueError:
                problem = {"detail": text[:200]}
            hint = None
            if token_route and e.code == 429:
                hint = ("The token route refuses this client id after too many failed logins; not retrying. "
                        f"Check PAYMENTS_CLIENT_SECRET, then try again after Retry-After: {retry_after or '?'} s.")
            raise ApiError(e.code, problem, hint) from None


def post(path, body):
    return call("POST", API + path, body, idempotency_key=str(uuid.uuid4()))


def get(path):
    return call("GET", API + path)


def expect(condition, failure):
    if not condition:
        raise RuntimeError(failure)


def main():
    global token
    if not CLIENT_ID or not CLIENT_SECRET:
        print("Set PAYMENTS_CLIENT_ID and PAYMENTS_CLIENT_SECRET (from ./run.sh merchant create).", file=sys.stderr)
        return 2
    order_id = "example-py-" + uuid.uuid4().hex[:12]

    # 1. Token from the client credentials.
    t = call("POST", API + "/v1/auth/token", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, auth=False,
             token_route=True)
    token = t["access_token"]
    print(f"1. token: {t['token_type']}, expires in {t['expires_in']} s")

    # 2. A tokenization intent; card_entry_url is the Vault's page for the cardholder.
    intent = post("/v1/tokenization-intents", {})
    print(f"2. tokenization intent {intent['id']}: {intent['status']}, card entry page {intent['card_entry_url']}")

    # 3. The sandbox test card straight to the Vault, as a PCI-scoped server would. Never to the merchant API.
    entry = urllib.parse.urlsplit(intent["card_entry_url"])
    vault = os.environ.get("PAYMENTS_VAULT_URL", f"{entry.scheme}://{entry.netloc}").rstrip("/")
    call("POST", f"{vault}/v1/tokenization-intents/{intent['id']}/card", {
        "client_secret": intent["client_secret"], "number": "4242424242424242", "exp_month": 12,
        "exp_year": datetime.datetime.now(datetime.timezone.utc).year + 2, "cvc": "123", "holder_name": "Ada Lovelace",
    }, auth=False, retry=False)
    intent = get(f"/v1/tokenization-intents/{intent['id']}")
    expect(intent["status"] == "SUCCEEDED" and intent.get("card_token"), f"intent is {intent['status']}, expected SUCCEEDED")
    card = intent.get("card") or {}
    print(f"3. card posted to the Vault: {intent['status']}, card token {intent['card_token']} "
          f"({card.get('brand')} •••• {card.get('last4')})")

    # 4. Authorize 10.50 USD on the token.
    trx = post("/v1/transactions", {"operation": "authorize", "amount": 1050, "currency": "USD",
                                    "card_token": intent["card_token"], "order_id": order_id, "external_id": order_id + "-ext"})
    expect(trx["status"] == "AUTHORIZED", f"authorize answered {trx['status']} {trx.get('decline_code')}")
    print(f"4. authorize 1050 USD: {trx['trx_id']} {trx['status']} (authorization code {trx.get('authorization_code')})")

    # 5. Capture all of it (add "amount" for a partial capture).
    trx = post(f"/v1/transactions/{trx['trx_id']}", {"operation": "capture"})
    expect(trx["status"] == "CAPTURED" and trx["captured_amount"] == 1050, f"capture answered {trx['status']}")
    print(f"5. capture: {trx['status']}, captured {trx['captured_amount']}")

    # 6. Refund 3.00: a new REFUND transaction.
    if os.environ.get("PAYMENTS_SKIP_REFUND") == "1":
        print("6. refund: SKIPPED (PAYMENTS_SKIP_REFUND=1: this gateway has no refunds route yet)")
    else:
        refund = post(f"/v1/transactions/{trx['trx_id']}/refunds", {"amount": 300, "reason": "customer returned an item"})
        trx = get(f"/v1/transactions/{trx['trx_id']}")
        expect(refund["type"] == "REFUND" and trx["refunded_amount"] == 300, "refund did not show on the payment")
        print(f"6. refund 300: {refund['trx_id']} {refund['type']} {refund['status']}; payment refunded_amount {trx['refunded_amount']}")

    # 7. Today's transactions, newest first (the end date is exclusive, so: tomorrow).
    today = datetime.datetime.now(datetime.timezone.utc).date()
    query = urllib.parse.urlencode({
        "start_date": today.strftime("%d/%m/%Y"), "end_date": (today + datetime.timedelta(days=1)).strftime("%d/%m/%Y"),
        "sort_by": "created_at", "sort_direction": "DESC", "limit": 100,
    })
    page = get(f"/v1/transactions?{query}")
    expect(any(x["trx_id"] == trx["trx_id"] for x in page["data"]), "the payment is not in today's list")
    print(f"7. list: {page['total']} transaction(s) today, as_of {page['as_of']}; {trx['trx_id']} is listed")

    print(f"DONE trx_id={trx['trx_id']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ApiError, RuntimeError, OSError, ValueError, KeyError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)

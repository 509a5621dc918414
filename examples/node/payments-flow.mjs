// The integration guide's whole flow with Node.js 18+ and its built-in fetch (no packages):
// token -> tokenization intent -> card to the Vault -> authorize -> capture -> refund -> list.
// Environment: PAYMENTS_API_URL (default http://127.0.0.1:5080), PAYMENTS_CLIENT_ID, PAYMENTS_CLIENT_SECRET,
// optional PAYMENTS_VAULT_URL (default: the origin of card_entry_url). Exits non-zero on any failure.
import { randomUUID } from "node:crypto";

const API = (process.env.PAYMENTS_API_URL ?? "http://127.0.0.1:5080").replace(/\/+$/, "");
const { PAYMENTS_CLIENT_ID: clientId, PAYMENTS_CLIENT_SECRET: clientSecret } = process.env;
if (!clientId || !clientSecret) {
  console.error("Set PAYMENTS_CLIENT_ID and PAYMENTS_CLIENT_SECRET (from ./run.sh merchant create).");
  process.exit(2);
}

class ApiError extends Error {
  constructor(status, problem, hint) {
    super(`HTTP ${status} ${problem.code ?? ""}: ${problem.detail ?? ""} (request ${problem.request_id ?? "?"})${hint ? `\n${hint}` : ""}`);
    Object.assign(this, { status, problem });
  }
}

let token = null;

// One call to the gateway. POSTs that create or move money carry an Idempotency-Key: to retry one safely
// (timeout, 5xx), send the same body again with the SAME key. Retried here, same key, after Retry-After plus a
// little jitter, at most 4 times: 429 rate_limited and 503 overloaded (nothing was changed), and a 409 that carries
// Retry-After (a conflict for now, e.g. a payment intent another request is confirming); any other 409 is final.
// `retry: false` for a card submission to the Vault, which is never repeated automatically (make a new intent), and
// `tokenRoute: true` for the token route, whose 429 (too many failed logins) lasts minutes: it is reported, not awaited.
async function call(method, url, body, { idempotencyKey, auth = true, retry = true, tokenRoute = false } = {}) {
  const headers = { Accept: "application/json" };
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    const retryAfter = res.headers.get("Retry-After");
    const forNow = (res.status === 429 && !tokenRoute) || res.status === 503 || (res.status === 409 && retryAfter !== null);
    if (retry && forNow && attempt < 4) {
      const seconds = Number(retryAfter) || 2 ** attempt;
      await new Promise((r) => setTimeout(r, seconds * 1000 + Math.random() * 250));
      continue;
    }
    if (tokenRoute && res.status === 429) {
      throw new ApiError(res.status, json ?? {}, "The token route refuses this client id after too many failed logins; not retrying. " +
        `Check PAYMENTS_CLIENT_SECRET, then try again after Retry-After: ${retryAfter ?? "?"} s.`);
    }
    if (!res.ok) throw new ApiError(res.status, json ?? {});
    return json;
  }
}
const post = (path, body) => call("POST", API + path, body, { idempotencyKey: randomUUID() });
const get = (path) => call("GET", API + path);
function expect(condition, failure) {
  if (!condition) throw new Error(failure);
}
const ddmmyyyy = (d) => `${String(d.getUTCDate()).padStart(2, "0")}/${String(d.getUTCMonth() + 1).padStart(2, "0")}/${d.getUTCFullYear()}`;

try {
  const orderId = `example-node-${randomUUID().slice(0, 12)}`;

  // 1. Token from the client credentials.
  const t = await call("POST", `${API}/v1/auth/token`, { client_id: clientId, client_secret: clientSecret }, { auth: false, tokenRoute: true });
  token = t.access_token;
  console.log(`1. token: ${t.token_type}, expires in ${t.expires_in} s`);

  // 2. A tokenization intent; card_entry_url is the Vault's page for the cardholder.
  let intent = await post("/v1/tokenization-intents", {});
  console.log(`2. tokenization intent ${intent.id}: ${intent.status}, card entry page ${intent.card_entry_url}`);

  // 3. The sandbox test card straight to the Vault, as a PCI-scoped server would. Never to the merchant API.
  const vault = (process.env.PAYMENTS_VAULT_URL ?? new URL(intent.card_entry_url).origin).replace(/\/+$/, "");
  await call("POST", `${vault}/v1/tokenization-intents/${intent.id}/card`, {
    client_secret: intent.client_secret, number: "4242424242424242", exp_month: 12,
    exp_year: new Date().getUTCFullYear() + 2, cvc: "123", holder_name: "Ada Lovelace",
  }, { auth: false, retry: false });
  intent = await get(`/v1/tokenization-intents/${intent.id}`);
  expect(intent.status === "SUCCEEDED" && intent.card_token, `intent is ${intent.status}, expected SUCCEEDED`);
  console.log(`3. card posted to the Vault: ${intent.status}, card token ${intent.card_token} (${intent.card?.brand} •••• ${intent.card?.last4})`);

  // 4. Authorize 10.50 USD on the token.
  let trx = await post("/v1/transactions", {
    operation: "authorize", amount: 1050, currency: "USD", card_token: intent.card_token, order_id: orderId, external_id: `${orderId}-ext`,
  });
  expect(trx.status === "AUTHORIZED", `authorize answered ${trx.status} ${trx.decline_code}`);
  console.log(`4. authorize 1050 USD: ${trx.trx_id} ${trx.status} (authorization code ${trx.authorization_code})`);

  // 5. Capture all of it (add "amount" for a partial capture).
  trx = await post(`/v1/transactions/${trx.trx_id}`, { operation: "capture" });
  expect(trx.status === "CAPTURED" && trx.captured_amount === 1050, `capture answered ${trx.status}`);
  console.log(`5. capture: ${trx.status}, captured ${trx.captured_amount}`);

  // 6. Refund 3.00: a new REFUND transaction.
  if (process.env.PAYMENTS_SKIP_REFUND === "1") {
    console.log("6. refund: SKIPPED (PAYMENTS_SKIP_REFUND=1: this gateway has no refunds route yet)");
  } else {
    const refund = await post(`/v1/transactions/${trx.trx_id}/refunds`, { amount: 300, reason: "customer returned an item" });
    trx = await get(`/v1/transactions/${trx.trx_id}`);
    expect(refund.type === "REFUND" && trx.refunded_amount === 300, "refund did not show on the payment");
    console.log(`6. refund 300: ${refund.trx_id} ${refund.type} ${refund.status}; payment refunded_amount ${trx.refunded_amount}`);
  }

  // 7. Today's transactions, newest first (the end date is exclusive, so: tomorrow).
  const now = new Date();
  const query = new URLSearchParams({
    start_date: ddmmyyyy(now), end_date: ddmmyyyy(new Date(now.getTime() + 86_400_000)),
    sort_by: "created_at", sort_direction: "DESC", limit: "100",
  });
  const page = await get(`/v1/transactions?${query}`);
  expect(page.data.some((x) => x.trx_id === trx.trx_id), "the payment is not in today's list");
  console.log(`7. list: ${page.total} transaction(s) today, as_of ${page.as_of}; ${trx.trx_id} is listed`);

  console.log(`DONE trx_id=${trx.trx_id}`);
} catch (e) {
  console.error(`FAILED: ${e.message}`);
  process.exit(1);
}

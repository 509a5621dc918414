// The whole merchant flow with a client generated from the served documents (openapi-typescript + openapi-fetch).
// Compiled with `tsc` against the generated types, so a document that disagrees with how the flow uses the API
// fails the build; run by tests/Payments.OpenApi.Tests (GeneratedClientTests) against the real gateway.
import createClient from "openapi-fetch";
import type { paths } from "./generated/payments.js";
import type { paths as vaultPaths } from "./generated/vault.js";

// Node's globals without @types/node: the one this flow reads.
declare const process: { env: Record<string, string | undefined> };

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const fail = (what: string, detail: unknown): never => {
  throw new Error(`${what}: ${JSON.stringify(detail)}`);
};

const api = createClient<paths>({ baseUrl: env("PAYMENTS_URL") });
const vault = createClient<vaultPaths>({ baseUrl: env("VAULT_URL") });

const token = await api.POST("/v1/auth/token", {
  body: { client_id: env("CLIENT_ID"), client_secret: env("CLIENT_SECRET") },
});
if (!token.data) fail("token", token.error);
api.use({
  onRequest({ request }) {
    request.headers.set("Authorization", `Bearer ${token.data!.access_token}`);
    return request;
  },
});

const intent = await api.POST("/v1/tokenization-intents", { body: {} });
if (!intent.data) fail("tokenization intent", intent.error);
const card = await vault.POST("/v1/tokenization-intents/{id}/card", {
  params: { path: { id: intent.data!.id } },
  body: {
    client_secret: intent.data!.client_secret ?? fail("client_secret", intent.data),
    number: "4242424242424242",
    exp_month: 12,
    exp_year: new Date().getUTCFullYear() + 2,
    cvc: "123",
  },
});
if (!card.data) fail("card", card.error);
const cardToken: string = card.data!.card_token;

const orderId = `ts-order-${Math.random().toString(36).slice(2, 10)}`; // letters: a run of digits can read as a card number
const authorized = await api.POST("/v1/transactions", {
  params: { header: { "Idempotency-Key": `${orderId}-auth` } },
  body: { operation: "authorize", amount: 1200, currency: "USD", card_token: cardToken, order_id: orderId },
});
if (!authorized.data) fail("authorize", authorized.error);
const trxId = authorized.data!.trx_id;
const etag = authorized.response.headers.get("ETag") ?? undefined;

const captured = await api.POST("/v1/transactions/{trx_id}", {
  params: { path: { trx_id: trxId }, header: { "If-Match": etag } },
  body: { operation: "capture", amount: 1200 },
});
if (!captured.data) fail("capture", captured.error);

const refund = await api.POST("/v1/transactions/{trx_id}/refunds", {
  params: { path: { trx_id: trxId } },
  body: { amount: 500 },
});
if (!refund.data) fail("refund", refund.error);

const day = (d: Date) =>
  `${String(d.getUTCDate()).padStart(2, "0")}/${String(d.getUTCMonth() + 1).padStart(2, "0")}/${d.getUTCFullYear()}`;
const list = await api.GET("/v1/transactions", {
  params: { query: { start_date: day(new Date()), end_date: day(new Date(Date.now() + 86_400_000)), limit: 10 } },
});
if (!list.data) fail("list", list.error);

const missing = await api.GET("/v1/transactions/{trx_id}", { params: { path: { trx_id: "trx_00000000000000000000000000" } } });
if (missing.data || missing.response.status !== 404) fail("unknown transaction", missing.response.status);
const problem = missing.error!;

console.log(JSON.stringify({
  trx_id: trxId,
  captured: captured.data!.captured_amount,
  refunded: refund.data!.order_amount,
  refund_type: refund.data!.type,
  listed: list.data!.data.some((t) => t.trx_id === trxId),
  error_status: missing.response.status,
  error_code: problem.code,
  error_type: problem.type,
}));

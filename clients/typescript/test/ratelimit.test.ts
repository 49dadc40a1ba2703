/** The client and the rate limit of a real server: 429 with Retry-After, and waiting it out. */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { RateLimited, createClient, ok } from "../src/index.js";
import { type Credentials, type Server, startServer } from "./server.js";

let server: Server;
let strict: Credentials;
let short: Credentials;
let slow: Credentials;

before(async () => {
  server = await startServer();
  [strict, short, slow] = await Promise.all([
    server.createClient({ rateLimit: "3/5 seconds" }),
    server.createClient({ rateLimit: "2/3 seconds" }),
    server.createClient({ rateLimit: "1/minute" }),
  ]);
});
after(async () => {
  await server?.stop();
});

const ONE = { params: { path: { product_code: "MED-042" } } } as const;

test("exhausted_limit_raises_rate_limited_with_retry_after", async () => {
  const own = strict;
  const api = createClient({ baseUrl: server.baseUrl, clientId: own.client_id, clientSecret: own.client_secret, retry: { maxRetries: 0 } });
  for (let i = 0; i < 3; i++) await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
  assert.deepEqual(api.lastRateLimit && { limit: api.lastRateLimit.limit, remaining: api.lastRateLimit.remaining }, {
    limit: 3,
    remaining: 0,
  });
  await assert.rejects(ok(api.api.GET("/arc/v1/products/{product_code}", ONE)), (error: unknown) => {
    assert.ok(error instanceof RateLimited);
    assert.equal(error.status, 429);
    assert.equal(error.errorCode, "071-429");
    const header = Number(error.response.headers.get("retry-after"));
    assert.ok(header >= 1 && header <= 5, `Retry-After ${header}`);
    assert.equal(error.retryAfterSeconds, header);
    assert.equal(error.additionalInformation.retry_after_seconds, header);
    return true;
  });
});

test("rate_limited_request_waits_retry_after_and_is_admitted", async () => {
  const own = short;
  const api = createClient({ baseUrl: server.baseUrl, clientId: own.client_id, clientSecret: own.client_secret });
  await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
  await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
  const started = Date.now();
  const product = await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
  assert.equal(product.product_code, "MED-042");
  // The third request was refused, waited for the Retry-After (at least one second) and went through.
  assert.ok(Date.now() - started >= 900, `admitted after ${Date.now() - started} ms`);
});

test("retry_after_longer_than_the_cap_is_not_waited_for", async () => {
  const own = slow;
  const api = createClient({
    baseUrl: server.baseUrl,
    clientId: own.client_id,
    clientSecret: own.client_secret,
    retry: { maxRetryAfterSeconds: 5 },
  });
  await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
  const started = Date.now();
  await assert.rejects(ok(api.api.GET("/arc/v1/products/{product_code}", ONE)), RateLimited);
  assert.ok(Date.now() - started < 5_000);
});
